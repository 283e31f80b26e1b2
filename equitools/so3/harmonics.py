"""Real spherical harmonics in the library's basis, as homogeneous polynomials.

Y_0 = 1, Y_1(r) = (x, y, z), and Y_{l+1} ∝ C(l,1,l+1)^T (Y_l ⊗ Y_1): the CG recursion that also
defines ``wigner_D``, so ``Y_l(R r) = wigner_D(l, R) Y_l(r)`` holds to rounding. The sign of each
degree is fixed as e3nn's: the m = 0 component is positive on the polar (y) axis.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ._backend import concatenate, einsum, is_torch, table
from .basis import check_degree
from .clebsch_gordan import clebsch_gordan

NORMALIZATIONS = ("integral", "component", "norm")


@cache
def _scale(l: int, normalization: str) -> np.ndarray:
    """Factor (0-d, read-only) from the raw polynomial of degree l to the normalised harmonic.

    The raw harmonic's rotation-invariant norm, signed by its m = 0 component, is read on the
    unit y axis.
    """
    y = np.array([1.0])
    for k in range(l):
        y = np.einsum("a,b,abk->k", y, np.array([0.0, 1.0, 0.0]), clebsch_gordan(k, 1, k + 1))
    target = {"norm": 1.0, "component": np.sqrt(2 * l + 1), "integral": np.sqrt((2 * l + 1) / (4 * np.pi))}
    out = np.array(target[normalization] / (np.linalg.norm(y) * np.sign(y[l])))
    out.setflags(write=False)
    return out


def spherical_harmonics(l, vectors, normalize: bool = True, normalization: str = "integral"):
    """Real spherical harmonics of degree ``l``, or of several degrees concatenated.

    l: a degree, or a sequence of degrees (e.g. ``range(lmax + 1)``: the ``(..., (lmax+1)^2)``
    stack of the library's feature layout), all made in one pass of the recursion.
    vectors: ``(..., 3)`` Cartesian (numpy or torch). Returns ``(..., Σ (2l+1))`` of the same kind.
    With ``normalize`` the vectors are first scaled to unit length (zero vectors give zeros for
    l > 0); otherwise the result is the homogeneous polynomial of degree l.
    ``normalization``: "integral" (∫ Y_lm^2 dΩ = 1), "component" (Σ_m Y_lm^2 = 2l+1 on the
    unit sphere, e3nn's default) or "norm" (Σ_m Y_lm^2 = 1).

    >>> spherical_harmonics(2, np.zeros((10, 3))).shape
    (10, 5)
    >>> spherical_harmonics(1, np.array([0.0, 0.0, 2.0]), normalization="norm").round(12).tolist()  # (x, y, z)
    [0.0, 0.0, 1.0]
    >>> spherical_harmonics(range(3), np.ones((4, 3))).shape  # degrees 0, 1, 2: (..., 9)
    (4, 9)
    """
    degrees = [check_degree(d) for d in l] if not isinstance(l, (int, np.integer)) else [check_degree(l)]
    if not degrees:
        raise ValueError("spherical_harmonics needs at least one degree, got none")
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    if vectors.shape[-1] != 3:
        raise ValueError(f"vectors must have shape (..., 3), got {tuple(vectors.shape)}")
    if normalize:
        if is_torch(vectors):
            norm = vectors.norm(dim=-1, keepdim=True)
            vectors = vectors / norm.masked_fill(norm == 0, 1.0)
        else:
            norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
            vectors = vectors / np.where(norm > 0, norm, 1.0)
    y, by_degree = vectors[..., :1] * 0 + 1, {}
    for k in range(max(degrees) + 1):
        if k in degrees:
            by_degree[k] = y * table(_scale, k, normalization, reference=vectors)
        if k < max(degrees):
            y = einsum("...a,...b,abk->...k", y, vectors, table(clebsch_gordan, k, 1, k + 1, reference=vectors))
    parts = [by_degree[d] for d in degrees]
    if len(parts) == 1:
        return parts[0]
    return concatenate(parts)
