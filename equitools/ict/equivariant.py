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

Spaces are given as: an int n (a rank-n Cartesian tensor, (1o)^{⊗n} in x, y, z order), irreps
(``so3.Irreps``, its string or an e3nn ``o3.Irreps``; a direct sum in the flat layout of
``so3.Irreps``, multiplicities expanded), a ``ReducedBasis`` (the rank-n tensors with an index
symmetry, :mod:`equitools.ict.reduced`), or a list/tuple of those (their tensor product, first
factor slowest). The group is "O(3)" or "SO(3)" (``so3.check_group``).

A reduced factor keeps Cartesian coordinates (3^n of them): its irrep copies are the rows of
``stacked()``, so Q_V is reduced in the irreps of the coefficients and then composed with the
Kronecker product of the factors' embeddings. Q_V then has orthonormal rows spanning the
subspace (it is no longer square), and every basis map vanishes off the source subspace and
lands in the target subspace.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import product

import numpy as np

from ..so3.irreps import Irrep, Irreps, allowed, check_group
from .path_matrices import product_path_matrices
from .reduced import ReducedBasis

_VECTOR = Irreps("1o")
_SCALAR = Irrep("0e")


def _copies(irreps: Irreps) -> tuple[tuple[int, Irrep], ...]:
    """``(offset, irrep)`` of every irrep copy, multiplicities expanded in e3nn's layout."""
    return tuple(
        (block.start + u * ir.dim, ir) for (mul, ir), block in zip(irreps, irreps.slices()) for u in range(mul)
    )


class Space:
    """A tensor product of direct sums of O(3) irreps, with its reduction to irreps.

    ``parts``: one ``so3.Irreps`` or ``ReducedBasis`` per tensor factor (a rank-n Cartesian tensor
    is n parts 1o); ``factors``: the same with a reduced basis of rank n written as n factors 1o,
    the Cartesian coordinates (``dim`` counts them; a reduced basis spans a subspace of them).

    >>> from equitools.ict import reduced_basis
    >>> Space(2).dim, Space("0e+1o").dim, Space(["1o", "2e"]).dim, Space(reduced_basis("ij=ji")).dim
    (9, 4, 15, 9)
    >>> Space("1o").representation(-np.eye(3)).astype(int).tolist()  # inversion flips a vector
    [[-1, 0, 0], [0, -1, 0], [0, 0, -1]]
    """

    def __init__(self, spec):
        self.spec = spec
        self.parts = self._parts(spec)
        if not self.parts or any(p.dim == 0 for p in self.parts):
            raise ValueError(f"space {spec!r} is empty")
        self.factors = tuple(
            f for p in self.parts for f in ((_VECTOR,) * p.rank if isinstance(p, ReducedBasis) else (p,))
        )
        self.factor_dims = tuple(f.dim for f in self.factors)
        self.dim = int(np.prod(self.factor_dims))

    @staticmethod
    def _parts(spec) -> tuple[Irreps | ReducedBasis, ...]:
        if isinstance(spec, (bool, np.bool_)):
            raise ValueError(f"not a space specification: {spec!r}")
        if isinstance(spec, ReducedBasis):
            return (spec,)
        if isinstance(spec, (int, np.integer)):
            if spec < 1:
                raise ValueError(f"a Cartesian rank must be >= 1, got {spec}")
            return (_VECTOR,) * int(spec)
        if isinstance(spec, (list, tuple)) and not hasattr(spec, "dim"):  # e3nn Irreps is a tuple
            return tuple(f for part in spec for f in Space._parts(part))
        try:
            return (Irreps(spec),)
        except ValueError as error:
            raise ValueError(f"not a valid space specification: {spec!r} ({error})") from None

    def representation(self, Q: np.ndarray) -> np.ndarray:
        """The ``(dim, dim)`` matrix by which the orthogonal 3x3 matrix ``Q`` acts on the space."""
        out = np.ones((1, 1))
        for factor in self.factors:
            out = np.kron(out, factor.D(Q))
        return out

    def reduction(self):
        """``(Q, blocks)``: Q with orthonormal rows, ``(dim, dim)`` (``(subspace dim, dim)`` if a part
        is a reduced basis), whose row ranges ``blocks`` carry irreps.

        blocks: list of ``(label, L, parity, slice)``; label is ``(choice, path)`` where choice
        picks one irrep copy of each part and path is its coupling path.
        """
        reduced = [isinstance(p, ReducedBasis) for p in self.parts]
        Q, blocks = _reduction(tuple(Irreps(p.irreps) if r else p for p, r in zip(self.parts, reduced)))
        if any(reduced):
            embedding = np.ones((1, 1))
            for p, r in zip(self.parts, reduced):
                embedding = np.kron(embedding, p.stacked() if r else np.eye(p.dim))
            Q = Q @ embedding
        return Q, blocks


@lru_cache(maxsize=64)
def _reduction(factors: tuple[Irreps, ...]):
    copies = [_copies(f) for f in factors]
    dims = [f.dim for f in factors]
    strides = [int(np.prod(dims[k + 1 :])) for k in range(len(dims))]
    total = int(np.prod(dims))
    Q = np.zeros((total, total))
    blocks, row = [], 0
    for choice in product(*(range(len(c)) for c in copies)):
        picked = [copies[k][a] for k, a in enumerate(choice)]
        pm = product_path_matrices([ir.l for _, ir in picked], [ir.p for _, ir in picked])
        columns = np.zeros(1, dtype=np.int64)
        for stride, (offset, ir) in zip(strides, picked):
            columns = (columns[:, None] + stride * (offset + np.arange(ir.dim))[None, :]).reshape(-1)
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

    >>> basis = equivariant_basis(2, 2)
    >>> len(basis), basis[0].shape, basis.matrices().shape
    (3, (9, 9), (3, 9, 9))
    >>> B = basis.matrices()
    >>> bool(np.allclose(np.einsum("aij,bij->ab", B, B), np.eye(3)))  # orthonormal
    True
    """

    def __init__(self, source: Space, target: Space, group: str):
        self.source, self.target, self.group = source, target, group
        self._qv, v_blocks = source.reduction()
        self._qw, w_blocks = target.reduction()
        self._pairs = [
            (wb, vb)
            for wb in w_blocks
            for vb in v_blocks
            # Schur: an equivariant map between two irreps exists iff their product holds 0e
            if allowed(Irrep(wb[1], wb[2]), Irrep(vb[1], vb[2]), _SCALAR, group)
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


def equivariant_basis(source, target, group: str = "O(3)") -> EquivariantBasis:
    """Orthonormal basis of the linear maps ``source → target`` that commute with ``group``.

    source, target: a Cartesian rank (int), irreps (``so3.Irreps``, its string, or an e3nn
    ``o3.Irreps``), a ``reduced_basis(formula)`` (tensors with an index symmetry, in Cartesian
    coordinates), or a list of these (tensor product).
    group: ``"O(3)"`` (rotations and inversion) or ``"SO(3)"`` (rotations only); the older
    spellings "O3" and "SO3" are read as the same.

    >>> len(equivariant_basis(4, 4))  # rank 4 -> rank 4 (Brauer diagrams: 105, dependent)
    91
    >>> len(equivariant_basis(1, 2)), len(equivariant_basis(1, 2, group="SO(3)"))  # the cross product needs SO(3)
    (0, 1)
    >>> equivariant_basis(["1o", "1o"], "0e+1e+2e").matrices().shape
    (3, 9, 9)
    >>> from equitools.ict import reduced_basis
    >>> strain = reduced_basis("ij=ji")  # isotropic elasticity: two constants (λ, μ)
    >>> len(equivariant_basis(strain, strain)), equivariant_basis(strain, strain).matrices().shape
    (2, (2, 9, 9))
    """
    return EquivariantBasis(Space(source), Space(target), check_group(group))
