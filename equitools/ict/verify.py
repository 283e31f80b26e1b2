"""Numerical checks of a set of path matrices: the report printed by ``equitools ict``."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..so3.irreps import Irreps
from .path_matrices import PathMatrices


def _kron_apply(R: np.ndarray, X: np.ndarray, n: int) -> np.ndarray:
    """Rows of X (``(k, 3**n)``) multiplied on the right by R^{⊗n}: apply R^T to every tensor axis."""
    t = X.reshape((X.shape[0],) + (3,) * n)
    for axis in range(1, n + 1):
        t = np.moveaxis(np.tensordot(t, R, axes=([axis], [0])), -1, axis)
    return t.reshape(X.shape[0], -1)


def verify(pm: PathMatrices, R: np.ndarray, max_rows: int = 4096) -> dict:
    """Errors (max abs) of a Cartesian path-matrix stack.

    orthonormality: |S S^T - I| over up to ``max_rows`` rows (all rows when dim ≤ max_rows);
    equivariance: |P R^{⊗n} - D(R) P| over the same rows, for the orthogonal R given
    (``so3.Irreps.D`` of the irrep (L, parity (-1)^n));
    completeness: |Σ_paths P^T P - I| on a random vector (= |S^T S v - v|).
    """
    if any(l != 1 for l in pm.degrees):
        raise ValueError("verify() checks Cartesian path matrices (all factors of degree 1)")
    n, dim = pm.rank, pm.dim
    stack = pm.stacked() if not pm.exact else pm.array()
    rows = pm.paths
    selected, used = [], 0
    for path in rows:
        if used >= max_rows:
            break
        selected.append(path)
        used += 2 * path[-1] + 1
    block = np.concatenate([_dense(stack[pm.rows(p)]) for p in selected])
    gram = _dense(stack @ block.T).T if dim <= max_rows else block @ block.T
    orthonormality = float(np.abs(gram - np.eye(*gram.shape)).max())
    rotated = _kron_apply(R, block, n)
    degrees = [p[-1] for p in selected]
    D = {L: Irreps([(1, (L, (-1) ** n))]).D(R) for L in set(degrees)}  # one D per irrep: not dim x dim
    parts = np.split(block, np.cumsum([2 * L + 1 for L in degrees])[:-1])
    expected = np.concatenate([D[L] @ part for L, part in zip(degrees, parts)])
    equivariance = float(np.abs(rotated - expected).max())
    v = np.random.default_rng(0).standard_normal(dim)
    completeness = float(np.abs(_dense(stack.T @ (stack @ v)).ravel() - v).max())
    return {
        "orthonormality": orthonormality,
        "equivariance": equivariance,
        "completeness": completeness,
        "rows_checked": used,
    }


def _dense(x):
    return x.toarray() if sp.issparse(x) else np.asarray(x, dtype=np.float64)
