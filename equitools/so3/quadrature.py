"""Latitude–longitude grids on the sphere, and the real harmonics in separated form on them.

Coordinates follow the real basis (polar axis y, azimuth φ measured from z towards x):

    r(θ, φ) = (sin θ sin φ, cos θ, sin θ cos φ),

in which every real harmonic separates as Y_lm(θ, φ) = Θ_lm(θ) Φ_m(φ) with Φ_0 = 1,
Φ_m = cos(mφ) for m > 0 and Φ_m = sin(|m|φ) for m < 0. Θ_lm is a trigonometric polynomial of
degree l in θ with only frequencies u ≡ l (mod 2) (real and even for even |m|, odd for odd |m|):
``polar_fourier`` gives its coefficients exactly, from which values and derivatives follow.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from .basis import check_degree
from .harmonics import spherical_harmonics


def sphere_points(theta, phi) -> np.ndarray:
    """Unit vectors ``(..., 3)`` at polar angles ``theta`` and azimuths ``phi`` (broadcast)."""
    theta, phi = np.broadcast_arrays(np.asarray(theta, dtype=float), np.asarray(phi, dtype=float))
    return np.stack([np.sin(theta) * np.sin(phi), np.cos(theta), np.sin(theta) * np.cos(phi)], axis=-1)


def grid_size(degree: int) -> tuple[int, int]:
    """Smallest ``(n_theta, n_phi)`` whose Gauss–Legendre × uniform grid integrates every
    polynomial of ``degree`` on the sphere exactly (2 n_theta - 1 >= degree, n_phi > degree)."""
    degree = check_degree(degree, "degree")
    return degree // 2 + 1, degree + 1


@cache
def gauss_legendre_grid(n_theta: int, n_phi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Product quadrature ``(theta (n_theta,), phi (n_phi,), weights (n_theta,))``.

    ∫ f dΩ = Σ_j Σ_k weights[j] f(theta[j], phi[k]) exactly when f is a polynomial of degree
    <= min(2 n_theta - 1, n_phi - 1); cos θ_j are the Gauss–Legendre nodes, φ_k = 2πk/n_phi.
    """
    x, w = np.polynomial.legendre.leggauss(n_theta)
    theta, phi = np.arccos(x), 2 * np.pi * np.arange(n_phi) / n_phi
    out = theta, phi, w * (2 * np.pi / n_phi)
    for a in out:
        a.setflags(write=False)
    return out


def azimuthal_frequency(L: int) -> np.ndarray:
    """m of each row of the ``(L+1)^2`` stacked harmonics (degree-major, m = -l..l)."""
    return np.concatenate([np.arange(-l, l + 1) for l in range(L + 1)])


@cache
def polar_fourier(L: int) -> np.ndarray:
    """Exact Fourier coefficients ``T ((L+1)^2, 2L+1)`` of Θ_lm: Θ_lm(θ) = Σ_u T[lm, u] e^{iuθ}.

    Columns are u = -L..L. Θ_lm is sampled at 2L+1 equispaced θ on the whole circle (the
    harmonic polynomial at r(θ, φ*) with Φ_m(φ*) = 1), so the discrete Fourier transform is the
    exact interpolation of a trigonometric polynomial of degree <= L, not a quadrature; the
    structural zeros (u ≢ l mod 2, and the real or imaginary half fixed by the parity of m)
    are set exactly. Complex128, read-only.
    """
    L = check_degree(L, "L")
    n = 2 * L + 1
    theta = 2 * np.pi * np.arange(n) / n
    u = np.arange(-L, L + 1)
    rows = []
    for l in range(L + 1):
        for m in range(-l, l + 1):
            phi = 0.0 if m >= 0 else np.pi / (2 * abs(m))
            samples = spherical_harmonics(l, sphere_points(theta, phi))[:, l + m]
            coefficients = np.exp(-1j * np.outer(u, theta)) @ samples / n
            keep = (np.abs(u) <= l) & ((u - l) % 2 == 0)
            part = coefficients.real if m % 2 == 0 else 1j * coefficients.imag
            rows.append(np.where(keep, part, 0))
    out = np.array(rows, dtype=np.complex128)
    out.setflags(write=False)
    return out


def polar_factor(L: int, theta, derivative: int = 0) -> np.ndarray:
    """Θ_lm(θ) (or its ``derivative``-th θ-derivative): float64 ``((L+1)^2, len(theta))``."""
    u = np.arange(-L, L + 1)
    phase = np.exp(1j * np.outer(u, np.asarray(theta, dtype=float))) * ((1j * u) ** derivative)[:, None]
    return np.ascontiguousarray((polar_fourier(L) @ phase).real)
