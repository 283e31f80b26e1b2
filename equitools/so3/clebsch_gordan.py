"""Real Clebsch–Gordan coefficients, exact (sympy) and float64.

``clebsch_gordan(l1, l2, l3)[m1, m2, m3]`` couples two real irreps into a third:

    D(l3) C = C (D(l1) ⊗ D(l2)),   C viewed as a (2l3+1, (2l1+1)(2l2+1)) matrix,

and it is orthonormal as a change of basis: sum_{m1,m2} C[m1,m2,m] C[m1,m2,m'] = δ(m, m').
The complex coefficients come from Racah's closed formula (G. Racah, Phys. Rev. 62, 438
(1942)), written as a sum of binomial products in exact integer arithmetic; the real ones by the change of basis
of :mod:`equitools.so3.basis`: C_real = U(l3) C_complex (U(l1) ⊗ U(l2))^†.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import cache
from math import factorial

import numpy as np

from .basis import check_degree, complex_to_real


def check_triangle(l1: int, l2: int, l3: int) -> tuple[int, int, int]:
    """Validate three degrees; raise ``ValueError`` unless |l1-l2| <= l3 <= l1+l2."""
    l1, l2, l3 = (check_degree(l, name) for l, name in ((l1, "l1"), (l2, "l2"), (l3, "l3")))
    if not abs(l1 - l2) <= l3 <= l1 + l2:
        raise ValueError(f"degrees ({l1}, {l2}, {l3}) violate the triangle rule |l1-l2| <= l3 <= l1+l2")
    return l1, l2, l3


def _racah(j1: int, m1: int, j2: int, m2: int, j: int, m: int) -> tuple[int, int, int]:
    """Complex CG as ``S * sqrt(num / den)`` with integers S, num, den (Racah's formula).

    Racah's sum over k, multiplied through by (j1+j2-j)! (j+j1-j2)! (j-j1+j2)!, is the integer
    S = Σ_k (-1)^k C(j1+j2-j, k) C(j+j1-j2, j1-m1-k) C(j-j1+j2, j2+m2-k), so every cancellation
    happens in exact integer arithmetic.
    """
    f, comb = factorial, math.comb
    a, x, y = j1 + j2 - j, j + j1 - j2, j - j1 + j2
    total = sum(
        (-1) ** k * comb(a, k) * comb(x, j1 - m1 - k) * comb(y, j2 + m2 - k)
        for k in range(max(0, j2 - j - m1, j1 - j + m2), min(a, j1 - m1, j2 + m2) + 1)
    )
    num = (2 * j + 1) * f(j + m) * f(j - m) * f(j1 - m1) * f(j1 + m1) * f(j2 - m2) * f(j2 + m2)
    den = f(j1 + j2 + j + 1) * f(a) * f(x) * f(y)
    return total, num, den


def complex_cg_squared(j1: int, m1: int, j2: int, m2: int, j: int, m: int) -> tuple[int, Fraction]:
    """Exact complex CG <j1 m1 j2 m2 | j m> as ``(sign, value**2)``."""
    if m1 + m2 != m or abs(m1) > j1 or abs(m2) > j2 or abs(m) > j:
        return 0, Fraction(0)
    total, num, den = _racah(j1, m1, j2, m2, j, m)
    if total == 0:
        return 0, Fraction(0)
    return (1 if total > 0 else -1), Fraction(total * total * num, den)


@cache
def _complex_cg(l1: int, l2: int, l3: int) -> np.ndarray:
    """Float64 complex-basis CG tensor ``[M1, M2, M3]`` (real numbers)."""
    out = np.zeros((2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1))
    for m1 in range(-l1, l1 + 1):
        for m2 in range(max(-l2, -l3 - m1), min(l2, l3 - m1) + 1):
            total, num, den = _racah(l1, m1, l2, m2, l3, m1 + m2)
            out[l1 + m1, l2 + m2, l3 + m1 + m2] = float(total) * np.sqrt(num / den)  # int/int rounds once
    return out


@cache
def _real_cg_float(l1: int, l2: int, l3: int) -> np.ndarray:
    u1, u2, u3 = complex_to_real(l1), complex_to_real(l2), complex_to_real(l3)
    c = np.einsum("aA,bB,cC,ABC->abc", u1.conj(), u2.conj(), u3, _complex_cg(l1, l2, l3), optimize=True)
    imaginary = np.abs(c.imag).max()
    if imaginary > 1e-12:  # a phase convention error, never expected
        raise ArithmeticError(f"real CG ({l1},{l2},{l3}) has imaginary part {imaginary:.1e}")
    out = np.ascontiguousarray(c.real)
    out[np.abs(out) < 1e-15] = 0.0
    out.setflags(write=False)
    return out


def _sympy_complex_to_real(l: int):
    import sympy

    phase = (-sympy.I) ** l
    half = 1 / sympy.sqrt(2)
    u = {}
    u[(0, 0)] = phase
    for m in range(1, l + 1):
        sign = (-1) ** m
        u[(m, -m)], u[(m, m)] = phase * half, phase * sign * half
        u[(-m, -m)], u[(-m, m)] = phase * sympy.I * half, -phase * sympy.I * sign * half
    return u


@cache
def _real_cg_exact(l1: int, l2: int, l3: int):
    import sympy

    u1, u2, u3 = (_sympy_complex_to_real(l) for l in (l1, l2, l3))
    rows = {}  # real m -> list of (M, u)
    for l, u in ((l1, u1), (l2, u2), (l3, u3)):
        rows[l] = {}
        for (m, M), value in u.items():
            rows[l].setdefault(m, []).append((M, value))
    out = sympy.MutableDenseNDimArray.zeros(2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1)
    for m1 in range(-l1, l1 + 1):
        for m2 in range(-l2, l2 + 1):
            for m3 in range(-l3, l3 + 1):
                total = sympy.Integer(0)
                for M1, a in rows[l1][m1]:
                    for M2, b in rows[l2][m2]:
                        for M3, c in rows[l3][m3]:
                            sign, square = complex_cg_squared(l1, M1, l2, M2, l3, M3)
                            if sign:
                                value = sign * sympy.sqrt(sympy.Rational(square.numerator, square.denominator))
                                total += sympy.conjugate(a) * sympy.conjugate(b) * c * value
                total = sympy.nsimplify(sympy.expand(total))
                if sympy.im(total) != 0:
                    raise ArithmeticError(f"real CG ({l1},{l2},{l3}) is not real at {(m1, m2, m3)}")
                out[l1 + m1, l2 + m2, l3 + m3] = total
    return sympy.ImmutableDenseNDimArray(out)


def clebsch_gordan(l1: int, l2: int, l3: int, exact: bool = False):
    """Real Clebsch–Gordan tensor of shape ``(2l1+1, 2l2+1, 2l3+1)``.

    Float64 numpy array (read-only, cached) by default; a sympy ``ImmutableDenseNDimArray``
    of square roots of rationals with ``exact=True``. Raises ``ValueError`` for a negative or
    non-integer degree or a violated triangle rule.

    >>> clebsch_gordan(1, 1, 0).shape
    (3, 3, 1)
    >>> (clebsch_gordan(1, 1, 0)[:, :, 0] * np.sqrt(3)).round(12).tolist()  # the dot product
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    >>> clebsch_gordan(1, 1, 0, exact=True)[2, 2, 0]
    sqrt(3)/3
    """
    l1, l2, l3 = check_triangle(l1, l2, l3)
    return _real_cg_exact(l1, l2, l3) if exact else _real_cg_float(l1, l2, l3)
