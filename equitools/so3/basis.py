"""The real basis convention, in one place: exactly e3nn's (``e3nn.o3``, versions 0.5 and 0.6).

Real spherical components are ordered m = -l..l, with **y as the polar axis** (as in e3nn's
``spherical_harmonics`` and ``wigner_D``). For l = 1 the components (m = -1, 0, 1) are the
Cartesian components (x, y, z) of a vector, so ``wigner_D(1, R) == R`` and a rank-n Cartesian
tensor is (1o)^{⊗n} with no change of basis. Cartesian indices are ordered x, y, z.

(The textbook real basis has z as the polar axis and orders l = 1 as (y, z, x); it differs from
this one by the cyclic rotation x→y→z of all axes, which leaves every Clebsch–Gordan tensor
unchanged but not the spherical harmonics or D matrices.)

The real basis is related to the complex (Condon–Shortley) basis |l, M>, quantised along the
polar axis, by ``x_real = complex_to_real(l) @ x_complex`` with

    m > 0:  Y_m = (-i)^l (Y^{-m} + (-1)^m Y^{m}) / sqrt(2)
    m = 0:  Y_0 = (-i)^l Y^0
    m < 0:  Y_m = (-i)^l i (Y^{m} - (-1)^m Y^{-m}) / sqrt(2)

The global phase (-i)^l makes every real Clebsch–Gordan tensor real.
"""

from __future__ import annotations

from functools import cache

import numpy as np


def check_degree(l: int, name: str = "l") -> int:
    """Return ``l`` as an int, or raise ``ValueError`` if it is not a non-negative integer."""
    if isinstance(l, bool) or not isinstance(l, (int, np.integer)) or l < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {l!r}")
    return int(l)


def dim(l: int) -> int:
    """Dimension 2l+1 of the irrep of degree ``l``.

    >>> dim(0), dim(2)
    (1, 5)
    """
    return 2 * check_degree(l) + 1


def complex_to_real_entries(l: int) -> list[tuple[int, int, complex]]:
    """Nonzero entries ``(m, M, u)`` of the complex→real matrix, before the phase (-i)^l.

    u is one of {1, ±1/sqrt(2), ±i/sqrt(2)} written as a complex number whose modulus is
    1 or 1/sqrt(2); exact callers rebuild the value from ``(m, M)``.
    """
    check_degree(l)
    r = 1.0 / np.sqrt(2.0)
    entries = [(0, 0, 1.0 + 0j)]
    for m in range(1, l + 1):
        sign = (-1) ** m
        entries += [(m, -m, r + 0j), (m, m, sign * r + 0j)]
        entries += [(-m, -m, 1j * r), (-m, m, -1j * sign * r)]
    return entries


@cache
def complex_to_real(l: int) -> np.ndarray:
    """Unitary ``(2l+1, 2l+1)`` complex matrix U with ``x_real = U @ x_complex`` (rows m, cols M).

    >>> U = complex_to_real(1)
    >>> U.shape, bool(np.allclose(U @ U.conj().T, np.eye(3)))
    ((3, 3), True)
    """
    u = np.zeros((2 * l + 1, 2 * l + 1), dtype=np.complex128)
    for m, M, value in complex_to_real_entries(l):
        u[l + m, l + M] = value
    u *= (-1j) ** l
    u.setflags(write=False)
    return u
