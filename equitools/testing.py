"""Shared helpers for equivariance tests (numpy float64; torch only if a torch object is passed).

Used by the project's own tests and available to users who check their own modules.
"""

from __future__ import annotations

import numpy as np


def random_rotation(seed: int | None = None, count: int | None = None) -> np.ndarray:
    """Haar-random proper rotation(s), float64: ``(3, 3)`` or ``(count, 3, 3)``."""
    rng = np.random.default_rng(seed)
    shape = (3, 3) if count is None else (count, 3, 3)
    q, r = np.linalg.qr(rng.standard_normal(shape))
    q = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]
    det = np.linalg.det(q)
    q[..., :, 0] *= det[..., None]
    return q


def random_orthogonal(seed: int | None = None) -> np.ndarray:
    """A random improper orthogonal matrix (a rotation times inversion), float64 ``(3, 3)``."""
    return -random_rotation(seed)


def kron_power(R: np.ndarray, n: int) -> np.ndarray:
    """``R ⊗ R ⊗ … ⊗ R`` (n factors): the action on flattened rank-n Cartesian tensors."""
    out = np.ones((1, 1))
    for _ in range(n):
        out = np.kron(out, R)
    return out


def assert_close(actual, expected, rtol: float = 1e-10, atol: float = 1e-12, what: str = "") -> None:
    """Assert ``|actual - expected| <= atol + rtol * max|expected|`` elementwise, with a clear message."""
    a = np.asarray(actual.detach().cpu() if hasattr(actual, "detach") else actual, dtype=np.float64)
    e = np.asarray(expected.detach().cpu() if hasattr(expected, "detach") else expected, dtype=np.float64)
    if a.shape != e.shape:
        raise AssertionError(f"{what}: shape {a.shape} != {e.shape}")
    err = float(np.abs(a - e).max()) if a.size else 0.0
    bound = atol + rtol * (float(np.abs(e).max()) if e.size else 0.0)
    if not err <= bound:
        raise AssertionError(f"{what}: max abs error {err:.3e} > {bound:.3e}")
