"""Real Wigner D matrices from 3x3 rotation matrices.

``wigner_D(1, R) = R`` (the l = 1 basis is x, y, z) and, for l >= 1,

    D(l+1) = C (D(l) ⊗ D(1)) C^T,   C = clebsch_gordan(l, 1, l+1) as a (2l+3, 3(2l+1)) matrix,

which is exact (C is an isometric intertwiner), so D is consistent with the library's CG by
construction. For an improper R (det = -1) the result is the representation carried by rank-l
polynomials, D(l, R) = det(R)^l D(l, det(R) R): parity (-1)^l, as for spherical harmonics.
"""

from __future__ import annotations

import numpy as np

from ._backend import einsum, like
from .basis import check_degree
from .clebsch_gordan import clebsch_gordan


def wigner_D(l: int, R):
    """Real Wigner D matrix of degree ``l``.

    R: ``(..., 3, 3)`` orthogonal matrices (numpy or torch; batch dims allowed).
    Returns ``(..., 2l+1, 2l+1)`` of the same kind, dtype and device, acting on real spherical
    components (m = -l..l), so that ``Y_l(R r) = wigner_D(l, R) @ Y_l(r)``.
    """
    l = check_degree(l)
    if tuple(R.shape[-2:]) != (3, 3):
        raise ValueError(f"R must have shape (..., 3, 3), got {tuple(R.shape)}")
    if l == 0:
        return R[..., :1, :1] * 0 + 1
    d1 = d = R
    for k in range(1, l):
        c = like(clebsch_gordan(k, 1, k + 1), R)
        t = einsum("abk,...ac->...kbc", c, d)
        t = einsum("...kbc,...bd->...kcd", t, d1)
        d = einsum("...kcd,cdj->...kj", t, c)
    return d
