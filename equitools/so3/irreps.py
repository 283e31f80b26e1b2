"""Irreps of O(3): the one feature type of the library, from ``so3`` up to the models.

``Irreps("8x0e+8x1o+4x2e")`` is an ordered direct sum of blocks ``mul x Irrep(l, p)`` in e3nn's
spelling: degree l, parity p = +1 ("e", even) or -1 ("o", odd); "y" means p = (-1)^l, the
parity of the degree-l spherical harmonics. A feature of these irreps is a flat vector of
``dim = Σ mul (2l+1)`` components: the blocks one after another, each block multiplicity-major
(copy u of block k at ``slices()[k].start + u (2l+1)``, its components m = -l..l in the real
basis of :mod:`equitools.so3.basis`). That is e3nn's layout and basis, so a feature array means
the same with ``Irreps.to_e3nn()``: conversion is the identity on the data.

The group acting is O(3) (rotations and the inversion) unless said otherwise: ``D(R)`` of an
improper R (det R = -1) is p^[det R < 0] · wigner_D(l, det(R) R) per irrep, as in e3nn. Under
SO(3) (rotations only) the parity labels are kept but carry no constraint: only the selection
rules change (``allowed(..., group="SO(3)")``). The group is spelt "O(3)" or "SO(3)"
(``check_group``; the older "O3" and "SO3" are read as the same).
"""

from __future__ import annotations

import re
from collections import namedtuple
from itertools import pairwise

import numpy as np

from ._backend import sign_det, zeros
from .basis import check_degree
from .wigner import check_rotations, wigner_D_all

GROUPS = ("O(3)", "SO(3)")
_GROUP_ALIASES = {"O3": "O(3)", "SO3": "SO(3)"}
_PARITY = {"e": 1, "o": -1}
_TERM = re.compile(r"^\s*(?:(\d+)\s*x\s*)?(\d+)\s*([eoy])\s*$")


def check_group(group: str) -> str:
    """``group`` spelt "O(3)" or "SO(3)" (the aliases "O3", "SO3" accepted); ``ValueError`` otherwise.

    >>> check_group("SO(3)"), check_group("O3")
    ('SO(3)', 'O(3)')
    """
    group = _GROUP_ALIASES.get(group, group) if isinstance(group, str) else group
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}, got {group!r}")
    return group


class Irrep(namedtuple("Irrep", "l p")):
    """One irrep of O(3): degree ``l`` (dimension 2l+1) and parity ``p`` (+1 even, -1 odd).

    Made from ``"1o"`` (or "2e", "3y" = parity (-1)^3), from ``(l, p)``, from ``l, p``, or from
    another Irrep (e3nn's ``o3.Irrep`` too). ``ir1 * ir2``: the irreps of their tensor product
    (degrees |l1-l2|..l1+l2, parity p1 p2). Ordered as the tuple (l, p), like e3nn.

    >>> Irrep("1o"), Irrep(2, 1).dim, Irrep("3y").p
    (1o, 5, -1)
    >>> Irrep("1o") * Irrep("1o")
    (0e, 1e, 2e)
    """

    __slots__ = ()

    def __new__(cls, l, p=None):
        if p is None:
            if isinstance(l, Irrep):
                return l
            if isinstance(l, str):
                match = _TERM.match(l)
                if match is None or match[1] is not None:
                    raise ValueError(f"cannot read an irrep from {l!r} (expected e.g. '1o', '2e')")
                l, p = int(match[2]), match[3]
                p = (-1) ** l if p == "y" else _PARITY[p]
            else:
                try:
                    l, p = l
                except (TypeError, ValueError):
                    raise ValueError(f"cannot read an irrep from {l!r}") from None
        if isinstance(p, bool) or p not in (1, -1):
            raise ValueError(f"parity must be 1 (even) or -1 (odd), got {p!r}")
        return super().__new__(cls, check_degree(l), int(p))

    @property
    def dim(self) -> int:
        """2l + 1."""
        return 2 * self.l + 1

    def __str__(self) -> str:
        return f"{self.l}{'e' if self.p == 1 else 'o'}"

    __repr__ = __str__

    def __mul__(self, other) -> tuple:
        other = Irrep(other)
        p = self.p * other.p
        return tuple(Irrep(l, p) for l in range(abs(self.l - other.l), self.l + other.l + 1))


def allowed(ir1, ir2, ir3, group: str = "O(3)") -> bool:
    """Whether ``ir1 ⊗ ir2`` contains ``ir3`` under ``group``: the selection rule of a CG path.

    Triangle rule |l1-l2| <= l3 <= l1+l2, and under "O(3)" also p3 = p1 p2.

    >>> allowed("1o", "1o", "1e"), allowed("1o", "1o", "1o"), allowed("1o", "1o", "1o", "SO(3)")
    (True, False, True)
    """
    ir1, ir2, ir3 = Irrep(ir1), Irrep(ir2), Irrep(ir3)
    parity = check_group(group) == "SO(3)" or ir3.p == ir1.p * ir2.p
    return abs(ir1.l - ir2.l) <= ir3.l <= ir1.l + ir2.l and parity


class MulIrrep(namedtuple("MulIrrep", "mul ir")):
    """One block of an ``Irreps``: ``mul`` copies of the irrep ``ir``; unpacks as ``(mul, ir)``.

    >>> block = Irreps("4x2e")[0]
    >>> block.mul, block.ir, block.dim, str(block)
    (4, 2e, 20, '4x2e')
    """

    __slots__ = ()

    @property
    def dim(self) -> int:
        """mul (2l + 1)."""
        return self.mul * self.ir.dim

    def __str__(self) -> str:
        return f"{self.mul}x{self.ir}"

    __repr__ = __str__


Sorted = namedtuple("Sorted", "irreps p inv")
Sorted.__doc__ = """``Irreps.sort()``: the sorted irreps, ``p[old] = new`` and ``inv[new] = old`` block indices."""


def _check_mul(mul) -> int:
    if isinstance(mul, bool) or not isinstance(mul, (int, np.integer)) or mul < 0:
        raise ValueError(f"a multiplicity must be a non-negative integer, got {mul!r}")
    return int(mul)


def _parse(text: str) -> list[MulIrrep]:
    blocks = []
    for term in text.split("+") if text.strip() else []:
        match = _TERM.match(term)
        if match is None:
            raise ValueError(f"cannot read irreps {text!r}: bad term {term!r} (expected e.g. '8x0e+8x1o')")
        blocks.append(MulIrrep(int(match[1] or 1), Irrep(f"{match[2]}{match[3]}")))
    return blocks


class Irreps:
    """An ordered direct sum of O(3) irreps, in e3nn's string form and flat feature layout.

    Made from a string ``"8x0e+8x1o+4x2e"`` (multiplicity 1 may be omitted, "" is empty), from
    another ``Irreps`` or an e3nn ``o3.Irreps``, or from a list of blocks ``(mul, irrep)`` (irrep
    as ``"1o"``, ``(l, p)`` or ``Irrep``), of irreps, or of strings. ``ValueError`` otherwise.

    Iterating gives the blocks ``(mul, Irrep)`` in order; ``len`` counts blocks; ``irreps[k]``
    is a block, ``irreps[a:b]`` an Irreps. ``+`` concatenates; equal Irreps (also to an equal
    e3nn ``o3.Irreps``) hash alike. Features: ``(..., dim)``, layout in the module docstring.

    >>> irreps = Irreps("8x0e+8x1o+4x2e")
    >>> irreps, irreps.dim, irreps.lmax, irreps.num_irreps, len(irreps)
    (8x0e+8x1o+4x2e, 52, 2, 20, 3)
    >>> [(mul, ir.l, ir.p) for mul, ir in irreps]
    [(8, 0, 1), (8, 1, -1), (4, 2, 1)]
    >>> Irreps([(2, (1, -1)), (1, "2e")]) + "0e" == Irreps("2x1o+1x2e+1x0e")
    True
    """

    __slots__ = ("_blocks",)

    def __init__(self, irreps=()):
        if isinstance(irreps, Irreps):
            blocks = irreps._blocks
        elif isinstance(irreps, str):
            blocks = _parse(irreps)
        elif isinstance(irreps, (Irrep, MulIrrep)):
            blocks = [MulIrrep(1, irreps) if isinstance(irreps, Irrep) else irreps]
        elif isinstance(irreps, (bool, int, float, np.number)) or irreps is None:
            raise ValueError(f"not an irreps specification: {irreps!r}")
        else:
            try:
                items = list(irreps)
            except TypeError:
                raise ValueError(f"not an irreps specification: {irreps!r}") from None
            blocks = []
            for item in items:
                if isinstance(item, str):
                    blocks += _parse(item)
                elif isinstance(item, Irrep):
                    blocks.append(MulIrrep(1, item))
                else:
                    try:
                        mul, ir = item
                    except (TypeError, ValueError):
                        raise ValueError(f"not an irreps block (mul, irrep): {item!r} in {irreps!r}") from None
                    blocks.append(MulIrrep(_check_mul(mul), Irrep(ir)))
        self._blocks = tuple(blocks)

    @classmethod
    def spherical_harmonics(cls, lmax: int, p: int = -1) -> Irreps:
        """``1x0e+1x1o+...+1x(lmax)``: degrees 0..lmax once each, parity p^l (e3nn's default p = -1).

        >>> Irreps.spherical_harmonics(3), Irreps.spherical_harmonics(2, p=1)
        (1x0e+1x1o+1x2e+1x3o, 1x0e+1x1e+1x2e)
        """
        if p not in (1, -1):
            raise ValueError(f"p must be 1 or -1, got {p!r}")
        return cls([(1, (l, p**l)) for l in range(check_degree(lmax, "lmax") + 1)])

    @classmethod
    def from_e3nn(cls, irreps) -> Irreps:
        """The same irreps from an ``e3nn.o3.Irreps`` (blocks and order kept).

        >>> from e3nn import o3
        >>> Irreps.from_e3nn(o3.Irreps("2x0e+1x1o"))
        2x0e+1x1o
        """
        return cls([(mul, (ir.l, ir.p)) for mul, ir in irreps])

    def to_e3nn(self):
        """The same irreps as an ``e3nn.o3.Irreps`` (imports e3nn); features need no conversion.

        >>> Irreps("2x0e+1x1o").to_e3nn().dim
        5
        """
        from e3nn import o3

        return o3.Irreps([(mul, (ir.l, ir.p)) for mul, ir in self])

    # -- sizes and layout --------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Length of a flat feature, Σ mul (2l+1)."""
        return sum(block.dim for block in self._blocks)

    @property
    def num_irreps(self) -> int:
        """Number of irrep copies, Σ mul."""
        return sum(block.mul for block in self._blocks)

    @property
    def lmax(self) -> int:
        """Highest degree; ``ValueError`` for empty irreps."""
        if not self._blocks:
            raise ValueError("empty irreps have no lmax")
        return max(ir.l for _, ir in self._blocks)

    def slices(self) -> list[slice]:
        """One slice per block into the flat ``(dim,)`` feature.

        >>> Irreps("2x0e+1x1o").slices()
        [slice(0, 2, None), slice(2, 5, None)]
        """
        ends = np.cumsum([0] + [block.dim for block in self._blocks]).tolist()
        return [slice(a, b) for a, b in pairwise(ends)]

    def degree_index(self) -> np.ndarray:
        """Degree l of each of the ``dim`` components: int64 ``(dim,)``.

        >>> Irreps("2x0e+1x1o").degree_index().tolist()
        [0, 0, 1, 1, 1]
        """
        return np.repeat(
            np.array([ir.l for _, ir in self._blocks], dtype=np.int64), [block.dim for block in self._blocks]
        )

    def sort(self) -> Sorted:
        """Blocks sorted by irrep (stable): ``(irreps, p, inv)`` with ``p[old] = new``, ``inv[new] = old``.

        >>> Irreps("1x1o+2x0e+1x1e").sort()
        Sorted(irreps=2x0e+1x1o+1x1e, p=(1, 0, 2), inv=(1, 0, 2))
        """
        inv = tuple(sorted(range(len(self)), key=lambda k: (self._blocks[k].ir, k)))
        p = tuple(int(k) for k in np.argsort(inv))
        return Sorted(Irreps([self._blocks[k] for k in inv]), p, inv)

    # -- the representation ------------------------------------------------------------------
    def D(self, R):
        """Block-diagonal matrix by which the orthogonal ``R (..., 3, 3)`` acts on features.

        numpy (float64) or torch (R's dtype and device, differentiable): ``(..., dim, dim)``;
        one ``p^[det R < 0] wigner_D(l, det(R) R)`` per irrep copy, so ``D(R1 R2) = D(R1) D(R2)``
        and a feature x transforms as ``x ↦ D(R) @ x`` (``x @ D(R).T`` for rows).

        >>> Irreps("1x0o+1x1o").D(-np.eye(3)).diagonal().tolist()  # the inversion
        [-1.0, -1.0, -1.0, -1.0]
        >>> import torch
        >>> Irreps("2x1e").D(torch.eye(3).expand(5, 3, 3)).shape
        torch.Size([5, 6, 6])
        """
        check_rotations(R)
        batch = tuple(R.shape[:-2])
        out = zeros(batch + (self.dim, self.dim), R)
        if not self.dim:
            return out
        det = sign_det(R)[..., None, None]
        ds = wigner_D_all(self.lmax, R * det)
        for (_, ir), block in zip(self._blocks, self.slices()):
            d = ds[ir.l] * det if ir.p == -1 else ds[ir.l]
            for start in range(block.start, block.stop, ir.dim):
                out[..., start : start + ir.dim, start : start + ir.dim] = d
        return out

    # -- a value type -------------------------------------------------------------------------
    def __iter__(self):
        return iter(self._blocks)

    def __len__(self) -> int:
        return len(self._blocks)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Irreps(self._blocks[index])
        return self._blocks[index]

    def __add__(self, other) -> Irreps:
        return Irreps(self._blocks + Irreps(other)._blocks)

    def __radd__(self, other) -> Irreps:
        return Irreps(other) + self

    def __eq__(self, other) -> bool:
        if not isinstance(other, Irreps):
            if isinstance(other, str) or not isinstance(other, (list, tuple)):
                return NotImplemented
            try:
                other = Irreps(other)
            except ValueError:
                return NotImplemented
        return self._blocks == other._blocks

    def __hash__(self) -> int:
        return hash(self._blocks)

    def __str__(self) -> str:
        return "+".join(map(str, self._blocks))

    __repr__ = __str__
