"""Real Gaunt coefficients and their parity-odd partner, in the library's real basis.

Gaunt coefficients are integrals of three real spherical harmonics ("integral" normalisation),

    gaunt(l1, l2, l3)[m1, m2, m3] = ∫ Y_l1m1 Y_l2m2 Y_l3m3 dΩ,

so that Y_l1m1 Y_l2m2 = Σ_l3m3 gaunt[m1, m2, m3] Y_l3m3 (Luo et al., "Enabling Efficient
Equivariant Operations in the Fourier Basis via Gaunt Tensor Products", ICLR 2024).
By Schur's lemma an invariant trilinear form is a multiple of the Clebsch–Gordan tensor,
gaunt = g · clebsch_gordan, and evaluating Σ_m1m2 C[m1,m2,m3] Y_l1m1 Y_l2m2 = g Y_l3m3 on the polar
(y) axis, where only m = 0 survives and Y_l0 = sqrt((2l+1)/4π), gives the closed form

    g(l1, l2, l3) = sqrt((2l1+1)(2l2+1) / (4π(2l3+1))) · C[0, 0, 0],

zero unless l1+l2+l3 is even. The odd paths are reached by the spherical Poisson bracket
{A, B} = r̂·(∇A × ∇B) (a pseudo-scalar function): ∫ Y_l3m3 {Y_l1m1, Y_l2m2} dΩ = h · C[m1, m2, m3]
with h zero unless l1+l2+l3 is odd. On the polar axis only the m = ±1 harmonics have a gradient,
∇Y_l,+1 = s⁺_l k_l ẑ and ∇Y_l,-1 = s⁻_l k_l x̂ with k_l = sqrt((2l+1) l(l+1) / 8π) and signs
s^±_l = ±1 fixed by the basis; as ŷ·(ẑ × x̂) = 1,

    h(l1, l2, l3) = k_l1 k_l2 (s⁺_l1 s⁻_l2 C[+1, -1, 0] - s⁻_l1 s⁺_l2 C[-1, +1, 0]) / sqrt((2l3+1)/4π).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from .clebsch_gordan import check_triangle, clebsch_gordan
from .harmonics import spherical_harmonics


@cache
def _pole_slope_signs(l: int) -> tuple[int, int]:
    """Signs (s⁺, s⁻) of the slopes of Y_l,+1 towards z and of Y_l,-1 towards x at the polar axis."""
    t = 1e-3 / (l + 1)  # well before the first zero of P_l^1(cos θ)
    towards_z = spherical_harmonics(l, np.array([0.0, np.cos(t), np.sin(t)]))[l + 1]
    towards_x = spherical_harmonics(l, np.array([np.sin(t), np.cos(t), 0.0]))[l - 1]
    return int(np.sign(towards_z)), int(np.sign(towards_x))


def gaunt_factor(l1: int, l2: int, l3: int, exact: bool = False):
    """Scalar g with ``gaunt(l1, l2, l3) == g * clebsch_gordan(l1, l2, l3)``; 0 for odd l1+l2+l3.

    float by default, a sympy expression with ``exact=True``. Raises ``ValueError`` like
    ``clebsch_gordan`` for bad degrees.

    >>> round(gaunt_factor(1, 1, 2), 6), gaunt_factor(1, 1, 1)
    (0.309019, 0.0)
    >>> gaunt_factor(1, 1, 2, exact=True)
    sqrt(30)/(10*sqrt(pi))
    """
    l1, l2, l3 = check_triangle(l1, l2, l3)
    c000 = clebsch_gordan(l1, l2, l3, exact=exact)[l1, l2, l3]
    if exact:
        import sympy

        return sympy.sqrt(sympy.Rational((2 * l1 + 1) * (2 * l2 + 1), 2 * l3 + 1) / (4 * sympy.pi)) * c000
    return float(np.sqrt((2 * l1 + 1) * (2 * l2 + 1) / (4 * np.pi * (2 * l3 + 1))) * c000)


def bracket_factor(l1: int, l2: int, l3: int, exact: bool = False):
    """Scalar h with ``∫ Y_l3 {Y_l1, Y_l2} dΩ == h * clebsch_gordan(l1, l2, l3)``; 0 for even l1+l2+l3.

    {A, B} = r̂·(∇A × ∇B) is the spherical Poisson bracket. float, or sympy with ``exact=True``.

    >>> round(bracket_factor(1, 1, 1), 6), bracket_factor(1, 1, 2)
    (-0.690988, 0.0)
    >>> bracket_factor(1, 1, 1, exact=True)
    -sqrt(6)/(2*sqrt(pi))
    """
    l1, l2, l3 = check_triangle(l1, l2, l3)
    if l1 == 0 or l2 == 0 or (l1 + l2 + l3) % 2 == 0:
        return 0 if exact else 0.0
    c = clebsch_gordan(l1, l2, l3, exact=exact)
    (p1, n1), (p2, n2) = _pole_slope_signs(l1), _pole_slope_signs(l2)
    difference = p1 * n2 * c[l1 + 1, l2 - 1, l3] - n1 * p2 * c[l1 - 1, l2 + 1, l3]
    if exact:
        import sympy

        k1k2 = sympy.sqrt(sympy.Rational((2 * l1 + 1) * l1 * (l1 + 1) * (2 * l2 + 1) * l2 * (l2 + 1), 64))
        return k1k2 * difference * sympy.sqrt(sympy.Rational(4, 2 * l3 + 1)) / sympy.sqrt(sympy.pi)
    k1k2 = np.sqrt((2 * l1 + 1) * l1 * (l1 + 1) * (2 * l2 + 1) * l2 * (l2 + 1)) / (8 * np.pi)
    return float(k1k2 * difference / np.sqrt((2 * l3 + 1) / (4 * np.pi)))


@cache
def _gaunt_float(l1: int, l2: int, l3: int) -> np.ndarray:
    out = gaunt_factor(l1, l2, l3) * clebsch_gordan(l1, l2, l3)
    out.setflags(write=False)
    return out


def gaunt(l1: int, l2: int, l3: int, exact: bool = False):
    """Real Gaunt tensor ``∫ Y_l1m1 Y_l2m2 Y_l3m3 dΩ`` of shape ``(2l1+1, 2l2+1, 2l3+1)``.

    Float64 numpy (read-only, cached) or, with ``exact=True``, a sympy array (square roots of
    rationals over sqrt(π)). Zero for odd l1+l2+l3; ``ValueError`` for a violated triangle rule.

    >>> gaunt(1, 1, 2).shape
    (3, 3, 5)
    >>> bool(np.allclose(gaunt(1, 1, 2), gaunt_factor(1, 1, 2) * clebsch_gordan(1, 1, 2)))
    True
    """
    l1, l2, l3 = check_triangle(l1, l2, l3)
    if exact:
        return clebsch_gordan(l1, l2, l3, exact=True) * gaunt_factor(l1, l2, l3, exact=True)
    return _gaunt_float(l1, l2, l3)
