"""Numerical checks of a stack of Cartesian path matrices by random probes: the report printed by
``equitools ict``.

The stack S (``(dim, dim)``, dim = 3**n, rows in path order) must be orthonormal and every path
matrix P of final weight L must satisfy ``P R^{⊗n} = D_L(R) P`` (Shao et al. 2024, the defining
properties of path matrices; D_L of the O(3) irrep (L, (-1)^n)). Each property is an identity
``E = 0`` for a fixed matrix E, checked on Gaussian random vectors v, with products ``S x`` and
``S^T x`` only: O(dim²) work and O(dim) extra memory, instead of the O(dim³) dense ``S S^T``.

- orthonormality ``S S^T = I``: max |S (S^T w) - w|;
- completeness ``S^T S = I`` (the projectors P^T P sum to the identity): max |S^T (S v) - v|;
- equivariance ``S R^{⊗n} = D(R) S``: max |S (R^{⊗n} v) - D(R) (S v)|, D(R) block diagonal with
  one D_L per path; R^{⊗n} v applies R to each tensor axis in turn (O(n · 3**n)).

What a probe proves: ``E v = 0`` only for v in the kernel of E, a proper subspace when E ≠ 0, which
a Gaussian vector hits with probability 0. So one probe detects a non-orthonormal, incomplete or
non-equivariant S with probability 1; an error of size ε in entry (r, c) of E shows as about
ε·|v_c| (|v_c| is below 0.1 with probability 8%, so several probes are used and the largest error
reported). For the genuine stack the errors are rounding: ~1e-15 in float64, ~1e-7 in float32.

Choices (the paper is silent): 2 probes per property and per transformation, seed 0; all
transformations share two sweeps over S, each reading S once for a product ``S X`` and a product
``S^T Y`` (row ranges on a thread pool with BLAS on one thread each, dense rows in cache-sized
blocks that serve both products; the ranges are the progress steps).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

from ..so3.irreps import Irreps
from .path_matrices import PathMatrices

TASKS = 32
"""Row ranges per sweep over the stack: the progress steps, shared among the threads."""
CACHE_ENTRIES = 1 << 18
"""Dense stack entries multiplied at once (2 MB of float64), read once from memory for both products."""


def _kron_apply(R: np.ndarray, X: np.ndarray, n: int) -> np.ndarray:
    """Rows of X (``(k, 3**n)``) multiplied on the right by R^{⊗n}: apply R^T to every tensor axis."""
    t = X.reshape((X.shape[0],) + (3,) * n)
    for axis in range(1, n + 1):
        t = np.moveaxis(np.tensordot(t, R, axes=([axis], [0])), -1, axis)
    return t.reshape(X.shape[0], -1)


def verify(pm: PathMatrices, rotations, probes: int = 2, seed: int = 0, progress=None) -> list[dict]:
    """Probe errors (max abs) of a Cartesian path-matrix stack, one dict per orthogonal 3x3 matrix.

    rotations: a sequence of orthogonal ``(3, 3)`` matrices (rotations, or rotations x inversion);
    each gets its own ``probes`` random vectors for every property. progress: optional callable
    ``(done_increment, total)`` called after each range of rows of the two sweeps over S.
    Returns ``[{"orthonormality", "completeness", "equivariance", "rows_checked", "probes"}, ...]``
    (rows_checked: all dim rows).

    >>> from equitools.ict import path_matrices
    >>> from equitools.testing import random_rotation
    >>> [report] = verify(path_matrices(4), [-random_rotation(0)])
    >>> max(report["orthonormality"], report["completeness"], report["equivariance"]) < 1e-13
    True
    """
    if any(l != 1 for l in pm.degrees):
        raise ValueError("verify() checks Cartesian path matrices (all factors of degree 1)")
    if isinstance(probes, bool) or not isinstance(probes, int) or probes < 1:
        raise ValueError(f"probes must be a positive integer, got {probes!r}")
    rotations = [np.asarray(R, dtype=np.float64) for R in rotations]
    for R in rotations:
        if R.shape != (3, 3) or not np.allclose(R @ R.T, np.eye(3), atol=1e-6):
            raise ValueError(f"rotations must be orthogonal 3x3 matrices, got {R.tolist()}")
    n, dim, k = pm.rank, pm.dim, len(rotations) * probes
    stack = pm.array() if pm.exact else pm.stacked()
    rng = np.random.default_rng(seed)
    v, w = rng.standard_normal((2, len(rotations), probes, dim))
    rotated = np.concatenate([_kron_apply(R.T, v[r], n) for r, R in enumerate(rotations)])  # R^{⊗n} v
    v, w = v.reshape(k, dim), w.reshape(k, dim)
    sweep = _Sweeps(stack, progress)
    SX, Stw = sweep(np.concatenate([v, rotated]).T, w.T)
    Sv, SRv = SX[:, :k], SX[:, k:]
    SStw, StSv = sweep(Stw, Sv)
    equivariance = np.abs(SRv - _apply_D(pm, rotations, Sv, probes))
    errors = {
        "orthonormality": np.abs(SStw - w.T),
        "completeness": np.abs(StSv - v.T),
        "equivariance": equivariance,
    }
    return [
        {key: float(e[:, r * probes : (r + 1) * probes].max()) for key, e in errors.items()}
        | {"rows_checked": dim, "probes": probes}
        for r in range(len(rotations))
    ]


def _apply_D(pm: PathMatrices, rotations, X: np.ndarray, probes: int) -> np.ndarray:
    """``D(R) X`` for columns ``X[:, r*probes:(r+1)*probes]`` and ``R = rotations[r]``, D block diagonal."""
    parity = (-1) ** pm.rank
    out = np.empty_like(X)
    for L in sorted({p[-1] for p in pm.paths}):
        rows = pm.weight_rows(L)
        blocks = X[rows].reshape(-1, 2 * L + 1, X.shape[1])  # (paths, M, columns)
        for r, R in enumerate(rotations):
            at = slice(r * probes, (r + 1) * probes)
            D = Irreps([(1, (L, parity))]).D(R)
            out[rows, at] = np.einsum("ab,pbk->pak", D, blocks[:, :, at]).reshape(-1, probes)
    return out


class _Sweeps:
    """``(S @ X, S.T @ Y)`` in float64 with one read of the stack S, reporting progress per row range."""

    def __init__(self, stack, progress):
        self.stack, self.progress = stack, progress
        bounds = np.linspace(0, stack.shape[0], min(TASKS, stack.shape[0]) + 1).astype(int)
        self.ranges = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
        self.total = 2 * len(self.ranges)  # verify makes two sweeps

    def __call__(self, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from threadpoolctl import threadpool_limits

        X, Y = np.ascontiguousarray(X, dtype=np.float64), np.ascontiguousarray(Y, dtype=np.float64)
        SX, StY = np.empty((self.stack.shape[0], X.shape[1])), np.zeros((self.stack.shape[1], Y.shape[1]))

        def rows(lo: int, hi: int) -> np.ndarray:  # this range's share of S^T Y; its rows of S X in place
            share = np.zeros_like(StY)
            step = hi - lo if sp.issparse(self.stack) else max(1, CACHE_ENTRIES // self.stack.shape[1])
            for start in range(lo, hi, step):
                block = _row_block(self.stack, start, min(hi, start + step))
                SX[start : start + block.shape[0]] = block @ X
                share += block.T @ Y[start : start + block.shape[0]]
            return share

        workers = min(len(self.ranges), os.cpu_count() or 1)
        with threadpool_limits(1), ThreadPoolExecutor(workers) as pool:
            for share in pool.map(lambda r: rows(*r), self.ranges):
                StY += share
                if self.progress is not None:
                    self.progress(1, self.total)
        return SX, StY


def _row_block(stack, lo: int, hi: int):
    """Rows ``lo:hi`` of the stack without copying them (a CSR view shares ``data`` and ``indices``)."""
    if not sp.issparse(stack):
        return stack[lo:hi]
    at = stack.indptr[lo : hi + 1]
    return sp.csr_matrix(
        (stack.data[at[0] : at[-1]], stack.indices[at[0] : at[-1]], at - at[0]), shape=(hi - lo, stack.shape[1])
    )
