"""Real Wigner D matrices from 3x3 rotation matrices.

``wigner_D(1, R) = R`` (the l = 1 basis is x, y, z) and, for l >= 1,

    D(l+1) = C (D(l) ⊗ D(1)) C^T,   C = clebsch_gordan(l, 1, l+1) as a (2l+3, 3(2l+1)) matrix,

which is exact (C is an isometric intertwiner), so D is consistent with the library's CG by
construction. One pass of the recursion gives every degree 0..L (``wigner_D_all``): L - 1
steps of three matrix products each, O(N L^4) for N rotations. For an improper R (det = -1) the
result is the representation carried by rank-l polynomials, D(l, R) = det(R)^l D(l, det(R) R):
parity (-1)^l, as for spherical harmonics (``Irreps.D`` applies an irrep's own parity instead).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ._backend import table
from .basis import check_degree
from .clebsch_gordan import clebsch_gordan


def check_rotations(R) -> None:
    """Raise ``ValueError`` unless ``R`` has shape ``(..., 3, 3)``."""
    if tuple(R.shape[-2:]) != (3, 3):
        raise ValueError(f"R must have shape (..., 3, 3), got {tuple(R.shape)}")


@cache
def _coupling(l: int) -> np.ndarray:
    """``clebsch_gordan(l, 1, l+1)`` with its first two axes swapped: ``(3, 2l+1, 2l+3)``, read-only."""
    out = np.ascontiguousarray(clebsch_gordan(l, 1, l + 1).transpose(1, 0, 2))
    out.setflags(write=False)
    return out


def _step(d, R, l: int):
    """D(l+1) from D(l) ``(..., 2l+1, 2l+1)`` and R: three matrix products.

    With c[b, a, j] = C[a, b, j]: z[b, c, j] = Σ_d R[b, d] C[c, d, j], then
    z'[b, a, j] = Σ_c D[a, c] z[b, c, j], then D(l+1)[i, j] = Σ_ba C[a, b, i] z'[b, a, j].
    """
    a, k = 2 * l + 1, 2 * l + 3
    c = table(_coupling, l, reference=R)
    batch = tuple(d.shape[:-2])
    z = (R @ c.reshape(3, a * k)).reshape(batch + (3, a, k))
    z = (d[..., None, :, :] @ z).reshape(batch + (3 * a, k))
    return c.reshape(3 * a, k).T @ z


def wigner_D_all(lmax: int, R) -> list:
    """Real Wigner D matrices of every degree 0..``lmax``, from one pass of the recursion.

    R: ``(..., 3, 3)`` orthogonal matrices (numpy or torch; batch dims allowed). Returns a list
    whose entry l is ``(..., 2l+1, 2l+1)`` (= ``wigner_D(l, R)``), of R's kind, dtype and device
    (numpy: float64). Torch tables are cached per dtype and device; autograd flows through R.

    >>> import numpy as np
    >>> [d.shape for d in wigner_D_all(2, np.eye(3))]
    [(1, 1), (3, 3), (5, 5)]
    >>> import torch
    >>> wigner_D_all(3, torch.eye(3, dtype=torch.float64).expand(4, 3, 3))[3].shape
    torch.Size([4, 7, 7])
    """
    lmax = check_degree(lmax, "lmax")
    check_rotations(R)
    out = [R[..., :1, :1] * 0 + 1]
    if lmax >= 1:
        out.append(R)
    for l in range(1, lmax):
        out.append(_step(out[-1], R, l))
    return out


def wigner_D(l: int, R):
    """Real Wigner D matrix of degree ``l``.

    R: ``(..., 3, 3)`` orthogonal matrices (numpy or torch; batch dims allowed).
    Returns ``(..., 2l+1, 2l+1)`` of the same kind, dtype and device, acting on real spherical
    components (m = -l..l), so that ``Y_l(R r) = wigner_D(l, R) @ Y_l(r)``. For several degrees
    of the same R, ``wigner_D_all`` computes them all for the price of the highest.

    >>> import numpy as np
    >>> R = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # 90° about z
    >>> wigner_D(2, R).shape, bool(np.allclose(wigner_D(1, R), R))
    ((5, 5), True)
    >>> import torch
    >>> wigner_D(3, torch.eye(3).expand(4, 3, 3)).shape  # a batch of rotations, torch in and out
    torch.Size([4, 7, 7])
    """
    return wigner_D_all(check_degree(l), R)[l]
