"""Irreducible bases of Cartesian tensors with index symmetries (e3nn-style formulas).

A formula such as ``"ijkl=jikl=ijlk=klij"`` (elasticity) or ``"ij=-ji"`` (antisymmetric) names the
subspace S of rank-n tensors (every index a vector, 1o) with T[f_0] = s T[f] for each term s f. The
reduction to irreps has two steps:

1. **Signed orbit sums.** The generators act on the 3^n multi-indices; for each orbit (found by a
   search over the generators, never enumerating the n! group elements) the vector
   Σ_x σ(x) e_x / sqrt(|orbit|), with σ propagated along the generators' signs, satisfies every
   constraint, and these vectors are an orthonormal basis B of S (an orbit whose signs conflict
   is zero in S). O(3^n · generators).
2. **Isotypic split** (Shao et al. 2024, "High-Rank Irreducible Cartesian Tensor Decomposition",
   path matrices; Schur's lemma). In the path-matrix coordinates the weight-L rows of a rank-n
   tensor form R^{m_L} ⊗ R^{2L+1} (paths ⊗ components), and the group acts on the second factor
   only. S is invariant, so its weight-L part is U_L ⊗ R^{2L+1} for a subspace U_L of the path
   space, and P_L Π_S P_L^T = U_L U_L^T ⊗ 1. The coordinates C = B P^T come from the matrix-free
   ``to_irreps`` (no 9^n matrix); the rows (path a, component M) of C_L for one fixed M form a
   ``(m_L, dim S)`` matrix A with A A^T = U_L U_L^T, a projector (eigenvalues exactly 0 or 1), so
   the eigenvectors of the smaller Gram matrix (A A^T or A^T A) give U_L and the number of
   copies. A copy u ∈ U_L gives the 2L+1 rows Σ_a u_a P_{path a} = (u^T C_L[:, :, M]) B, which
   lie in S and transform with ``so3.wigner_D(L)`` (with parity (-1)^n under reflections).

Choices where the paper is silent:
- The basis of U_L (the irrep copies of one degree) is the Gram-Schmidt orthonormalisation of
  the projected paths U_L U_L^T e_a in column-pivoted QR order (largest residual first), each
  copy with a positive coefficient on its pivot path: it depends on the subspace only (not on
  the orbit basis or on how the formula is written), up to ties between pivots. Copies are
  orthonormal; the split among them is a choice (e3nn makes another; the subspace per degree is
  the same).
- Rows are grouped by degree, ascending, copies of one degree consecutive, each copy's 2L+1
  rows in e3nn's m order: the flat layout of ``so3.Irreps(basis.irreps)``.
- ``decompose`` returns these coefficients (one per row, the flat irreps layout, so they are
  library features as they stand); for a tensor outside S they are those of its orthogonal
  projection onto S (its signed symmetrisation).
- There is no group argument: the reduction is the same for SO(3) and O(3), the parity of a
  rank-n tensor is (-1)^n; choose the group where it matters (``equivariant_basis``).
- Formulas: letters only, one index per letter and term, every term a permutation of the first,
  a sign allowed on every term but the first (as in e3nn); whitespace around terms is ignored.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from ..so3._backend import is_torch, like
from ..so3.irreps import Irreps
from .matrix_free import to_irreps
from .paths import coupling_paths

MAX_RANK = 10  # rank 10, fully symmetric: about 1 s (the orbit search is a Python loop over 3^n)
MAX_ENTRIES = 2**26  # dim × 3^n of the subspace's rows: 512 MB of float64 (a general rank-8 tensor fits)
_TERM = re.compile(r"(-?)([A-Za-z]+)")


def _parse(formula) -> tuple[int, tuple[tuple[int, tuple[int, ...]], ...]]:
    """Rank and generators ``(sign, q)`` meaning T[x] = sign · T[x[q]] (x[q][m] = x[q[m]])."""
    if not isinstance(formula, str):
        raise ValueError(f"formula must be a string such as 'ij=ji', got {formula!r}")
    terms = [term.strip() for term in formula.split("=")]
    matches = [_TERM.fullmatch(term) for term in terms]
    bad = [term for term, match in zip(terms, matches) if match is None]
    if bad:
        raise ValueError(f"formula {formula!r}: term {bad[0]!r} is not a signed run of letters such as '-jik'")
    first_sign, first = matches[0].groups()
    if first_sign:
        raise ValueError(f"formula {formula!r}: the first term carries no sign")
    if len(set(first)) != len(first):
        raise ValueError(f"formula {formula!r}: an index repeats in {first!r} (traces are not supported)")
    if len(first) > MAX_RANK:
        raise ValueError(f"formula {formula!r}: rank {len(first)} is above the supported {MAX_RANK}")
    generators = []
    for match in matches[1:]:
        sign, term = match.groups()
        if sorted(term) != sorted(first):
            raise ValueError(f"formula {formula!r}: {term!r} is not a permutation of {first!r}")
        generators.append((-1 if sign else 1, tuple(first.index(letter) for letter in term)))
    return len(first), tuple(generators)


def _orbit_basis(n: int, generators) -> sp.csr_matrix:
    """Orthonormal rows spanning the symmetric subspace: signed orbit sums, ``(dim, 3**n)`` CSR."""
    size = 3**n
    powers = 3 ** np.arange(n - 1, -1, -1)
    digits = (np.arange(size)[:, None] // powers) % 3
    images = [((digits[:, q] @ powers).tolist(), s) for s, q in generators]
    sign = [0] * size  # 0: not reached yet
    data, columns, indptr = [], [], [0]
    for start in range(size):
        if sign[start]:
            continue
        sign[start], orbit, consistent = 1, [start], True
        for x in orbit:  # grows while it is walked: a breadth-first search
            for image, s in images:
                y, sy = image[x], s * sign[x]
                if not sign[y]:
                    sign[y] = sy
                    orbit.append(y)
                elif sign[y] != sy:
                    consistent = False  # T[y] = -T[y]: the whole orbit vanishes
        if consistent:
            orbit.sort()  # canonical rows, whatever the order of the generators
            columns += orbit
            data += [sign[x] / np.sqrt(len(orbit)) for x in orbit]
            indptr.append(len(columns))
    return sp.csr_matrix((data, columns, indptr), shape=(len(indptr) - 1, size))


def _irreducible_rows(n: int, orbit_rows: sp.csr_matrix) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Rows of the subspace grouped by degree (see the module docstring) and ``[(copies, L)]``."""
    if orbit_rows.shape[0] == 0:
        return np.zeros((0, 3**n)), []
    coordinates = to_irreps(orbit_rows.toarray(), rank=n)  # B P^T, without forming P
    dim = orbit_rows.shape[0]
    paths = Counter(path[-1] for path in coupling_paths(n))  # m_L; stack rows by ascending L
    blocks, counts, start = [], [], 0
    for L in sorted(paths):
        width = 2 * L + 1
        c = coordinates[:, start : start + paths[L] * width].reshape(dim, paths[L], width)
        start += paths[L] * width
        a = c[:, :, L]  # rows (a, M) of P_L B^T for one M, transposed: a^T a = U U^T (module docstring)
        few = dim < paths[L]  # then take the Gram matrix of the smaller side, a a^T (same eigenvalues)
        eigenvalues, vectors = np.linalg.eigh(a @ a.T if few else a.T @ a)
        vectors = vectors[:, eigenvalues > 0.5]  # the eigenvalues are 0 or 1
        w = a.T @ vectors if few else vectors  # orthonormal basis of U
        copies = w.shape[1]
        if copies == 0:
            continue
        q, r, _ = scipy.linalg.qr(w.T, pivoting=True)  # Gram-Schmidt of pivoted U U^T e_a
        u = w @ (q * np.sign(np.diag(r)))
        weights = np.tensordot(u, c, axes=([0], [1])).transpose(0, 2, 1).reshape(copies * width, dim)
        blocks.append(np.asarray((orbit_rows.T @ weights.T).T))
        counts.append((copies, L))
    return np.concatenate(blocks), counts


class ReducedBasis:
    """Orthonormal basis of an index-symmetric subspace of rank-n tensors, split into irreps.

    ``formula``, ``rank``; ``irreps``: e3nn string of the rows (degrees ascending, e.g.
    ``"2x0e+2x2e+1x4e"``); ``dim``: dimension of the subspace; ``stacked()``: the ``(dim, 3**n)``
    float64 rows (Cartesian, C order), each (2L+1)-row block transforming with
    ``so3.wigner_D(L)``: S @ kron(R, …, R) = Irreps(irreps).D(R) @ S.

    >>> basis = reduced_basis("ijkl=jikl=ijlk=klij")  # elasticity: 21 components
    >>> basis
    ReducedBasis('ijkl=jikl=ijlk=klij', irreps='2x0e+2x2e+1x4e', dim=21)
    >>> basis.stacked().shape, basis.rank
    ((21, 81), 4)
    """

    def __init__(self, formula: str):
        self.rank, generators = _parse(formula)
        self.formula = formula.strip()
        orbit_rows = _orbit_basis(self.rank, generators)
        if orbit_rows.shape[0] * 3**self.rank > MAX_ENTRIES:
            raise ValueError(
                f"formula {self.formula!r}: a subspace of dimension {orbit_rows.shape[0]} in 3**{self.rank} "
                f"coordinates is above the {MAX_ENTRIES} entries supported (use path_matrices or to_irreps)"
            )
        rows, counts = _irreducible_rows(self.rank, orbit_rows)
        rows.setflags(write=False)
        self._rows = rows
        parity = (-1) ** self.rank
        self.irreps = str(Irreps([(copies, (L, parity)) for copies, L in counts]))
        self.dim = rows.shape[0]

    def stacked(self) -> np.ndarray:
        """The ``(dim, 3**rank)`` orthonormal rows (a float64 copy)."""
        return self._rows.copy()

    def decompose(self, tensor):
        """Coefficients ``(..., dim)`` (flat layout of ``irreps``) of tensors ``(..., 3, …, 3)``.

        numpy (float64) or torch (dtype and device kept); a tensor outside the subspace is projected
        first.

        >>> basis = reduced_basis("ij=ji")
        >>> c = basis.decompose(np.diag([1.0, 2.0, 3.0]))
        >>> basis.irreps, c.shape, round(float(c[0]) ** 2, 12)  # the trace part: (1+2+3)^2 / 3
        ('1x0e+1x2e', (6,), 12.0)
        """
        n = self.rank
        shape = tuple(tensor.shape)
        if len(shape) < n or any(s != 3 for s in shape[len(shape) - n :]):
            raise ValueError(f"tensor must have trailing shape {(3,) * n} for {self.formula!r}, got {shape}")
        flat = tensor.reshape(shape[: len(shape) - n] + (3**n,))
        return flat @ like(self._rows, tensor).T

    def reconstruct(self, coefficients):
        """Tensors ``(..., 3, …, 3)`` from coefficients ``(..., dim)``: the inverse of ``decompose``
        on the subspace (numpy or torch).

        >>> basis = reduced_basis("ij=-ji")
        >>> T = np.array([[0.0, 1.0, 2.0], [-1.0, 0.0, 3.0], [-2.0, -3.0, 0.0]])
        >>> bool(np.allclose(basis.reconstruct(basis.decompose(T)), T))
        True
        """
        shape = tuple(coefficients.shape)
        if not shape or shape[-1] != self.dim:
            raise ValueError(f"coefficients must have last axis {self.dim} for {self.formula!r}, got {shape}")
        rows = like(self._rows, coefficients) if is_torch(coefficients) else self._rows
        return (coefficients @ rows).reshape(shape[:-1] + (3,) * self.rank)

    def __repr__(self) -> str:
        return f"ReducedBasis({self.formula!r}, irreps={self.irreps!r}, dim={self.dim})"


@lru_cache(maxsize=32)
def _cached(formula: str) -> ReducedBasis:
    return ReducedBasis(formula)


def reduced_basis(formula: str) -> ReducedBasis:
    """Irreducible orthonormal basis of the rank-n tensors with the index symmetry ``formula``.

    formula: e3nn style, ``"ij=ji"``, ``"ij=-ji"``, ``"ijk=ikj"``, ``"ijkl=jikl=ijlk=klij"``; every
    index is a vector (1o), rank ≤ ``MAX_RANK``. Cached per formula. ``ValueError`` naming the
    formula if it is malformed.

    >>> reduced_basis("ijk=jik=ikj").irreps  # fully symmetric rank 3
    '1x1o+1x3o'
    >>> reduced_basis("ijk=ikj").dim  # piezoelectric d_ijk = d_ikj
    18
    """
    if not isinstance(formula, str):
        raise ValueError(f"formula must be a string such as 'ij=ji', got {formula!r}")
    return _cached(formula)
