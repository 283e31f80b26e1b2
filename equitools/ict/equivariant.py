"""Orthogonal bases of equivariant linear maps between tensor-power, tensor-product and
direct-sum spaces (Shao et al. 2024, "High-Rank ICT Decomposition and Bases of Equivariant
Spaces", Sec. on equivariant bases, extended to products and sums of irreps).

A space V is reduced by an orthonormal change of basis Q_V whose rows fall into irrep blocks
(path matrices for tensor products). Schur's lemma then gives, for every pair of blocks
(b in W, a in V) carrying the same irrep,

    B_{b,a} = Q_W[b]^T Q_V[a] / sqrt(2L+1)        (dim W x dim V),

and these maps are orthonormal in the Frobenius inner product and span all equivariant maps
V → W: Σ_L mult_V(L) mult_W(L) of them (91 for rank 4 → rank 4 under O(3), where Brauer
diagrams give a spanning set of 105). Under O(3) the blocks must also agree in parity.

Spaces are given as: an int n (a rank-n Cartesian tensor, (1o)^{⊗n} in x, y, z order), an e3nn
Irreps (string or object; a direct sum, multiplicities expanded in e3nn order), or a list/tuple
of those (their tensor product, first factor slowest).
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import product

import numpy as np

from ..so3.wigner import wigner_D
from .path_matrices import product_path_matrices

GROUPS = ("O3", "SO3")


_IRREP = re.compile(r"^\s*(?:(\d+)\s*x\s*)?(\d+)\s*([eoy])\s*$")


def _parse_irreps(spec) -> tuple[tuple[int, int], ...]:
    """e3nn Irreps (string like ``"2x0e+1o"``, or an ``e3nn.o3.Irreps``) → ((l, parity), …).

    Multiplicities are expanded in order; "y" means parity (-1)^l, as in e3nn. Parsed here so
    that this module does not need torch.
    """
    if not isinstance(spec, str):
        try:
            return tuple((int(ir[0]), int(ir[1])) for mul, ir in spec for _ in range(int(mul)))
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"not a valid Irreps specification: {spec!r}") from None
    out = []
    for term in spec.split("+") if spec.strip() else []:
        match = _IRREP.match(term)
        if match is None:
            raise ValueError(f"not a valid Irreps specification: {spec!r} (bad term {term!r})")
        mul, l, p = int(match[1] or 1), int(match[2]), match[3]
        parity = {"e": 1, "o": -1, "y": (-1) ** l}[p]
        out += [(l, parity)] * mul
    return tuple(out)


class Space:
    """A tensor product of direct sums of O(3) irreps, with its reduction to irreps."""

    def __init__(self, spec):
        self.spec = spec
        self.factors = self._factors(spec)
        if not self.factors or any(not f for f in self.factors):
            raise ValueError(f"space {spec!r} is empty")
        self.factor_dims = tuple(sum(2 * l + 1 for l, _ in f) for f in self.factors)
        self.dim = int(np.prod(self.factor_dims))

    @staticmethod
    def _factors(spec) -> tuple:
        if isinstance(spec, (bool, np.bool_)):
            raise ValueError(f"not a space specification: {spec!r}")
        if isinstance(spec, (int, np.integer)):
            if spec < 1:
                raise ValueError(f"a Cartesian rank must be >= 1, got {spec}")
            return (((1, -1),),) * int(spec)
        if isinstance(spec, (list, tuple)) and not hasattr(spec, "dim"):  # e3nn Irreps is a tuple
            return tuple(f for part in spec for f in Space._factors(part))
        return (_parse_irreps(spec),)

    def representation(self, Q: np.ndarray) -> np.ndarray:
        """The ``(dim, dim)`` matrix by which the orthogonal 3x3 matrix ``Q`` acts on the space."""
        det = float(np.sign(np.linalg.det(Q)))
        proper = det * Q
        out = np.ones((1, 1))
        for factor in self.factors:
            blocks = [(det if p == -1 else 1.0) * wigner_D(l, proper) for l, p in factor]
            size = sum(b.shape[0] for b in blocks)
            d, at = np.zeros((size, size)), 0
            for b in blocks:
                d[at : at + b.shape[0], at : at + b.shape[0]] = b
                at += b.shape[0]
            out = np.kron(out, d)
        return out

    def reduction(self):
        """``(Q, blocks)``: orthonormal ``(dim, dim)`` Q whose row ranges ``blocks`` carry irreps.

        blocks: list of ``(label, L, parity, slice)``; label is ``(choice, path)`` where choice
        picks one irrep of each factor and path is its coupling path.
        """
        return _reduction(self.factors)


@lru_cache(maxsize=64)
def _reduction(factors):
    dims = [sum(2 * l + 1 for l, _ in f) for f in factors]
    offsets = [np.concatenate([[0], np.cumsum([2 * l + 1 for l, _ in f])]) for f in factors]
    strides = [int(np.prod(dims[k + 1 :])) for k in range(len(dims))]
    total = int(np.prod(dims))
    Q = np.zeros((total, total))
    blocks, row = [], 0
    for choice in product(*(range(len(f)) for f in factors)):
        irreps = [factors[k][a] for k, a in enumerate(choice)]
        pm = product_path_matrices([l for l, _ in irreps], [p for _, p in irreps])
        columns = np.zeros(1, dtype=np.int64)
        for k, a in enumerate(choice):
            local = offsets[k][a] + np.arange(2 * irreps[k][0] + 1)
            columns = (columns[:, None] + strides[k] * local[None, :]).reshape(-1)
        Q[row : row + pm.dim, columns] = pm.array()
        for path in pm.paths:
            rows = pm.rows(path)
            blocks.append(((choice, path), path[-1], pm.parity, slice(row + rows.start, row + rows.stop)))
        row += pm.dim
    return Q, blocks


class EquivariantBasis:
    """Orthonormal (Frobenius) basis of the equivariant linear maps V → W.

    ``len(basis)``; ``basis[k]``: the ``(dim W, dim V)`` matrix; ``basis.labels[k]``: the pair
    (W block label, V block label); ``basis.matrices()``: all of them, ``(len, dim W, dim V)``.
    """

    def __init__(self, source: Space, target: Space, group: str):
        self.source, self.target, self.group = source, target, group
        self._qv, v_blocks = source.reduction()
        self._qw, w_blocks = target.reduction()
        self._pairs = [
            (wb, vb)
            for wb in w_blocks
            for vb in v_blocks
            if wb[1] == vb[1] and (group == "SO3" or wb[2] == vb[2])
        ]
        self.labels = [(wb[0], vb[0]) for wb, vb in self._pairs]

    def __len__(self) -> int:
        return len(self._pairs)

    def __getitem__(self, k: int) -> np.ndarray:
        wb, vb = self._pairs[k]
        return self._qw[wb[3]].T @ self._qv[vb[3]] / np.sqrt(2 * wb[1] + 1)

    def matrices(self) -> np.ndarray:
        """All basis maps stacked: ``(len, dim W, dim V)``."""
        out = np.empty((len(self), self.target.dim, self.source.dim))
        for k in range(len(self)):
            out[k] = self[k]
        return out


def equivariant_basis(source, target, group: str = "O3") -> EquivariantBasis:
    """Orthonormal basis of the linear maps ``source → target`` that commute with ``group``.

    source, target: a Cartesian rank (int), e3nn Irreps, or a list of these (tensor product).
    group: ``"O3"`` (rotations and inversion) or ``"SO3"`` (rotations only).
    """
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}, got {group!r}")
    return EquivariantBasis(Space(source), Space(target), group)
