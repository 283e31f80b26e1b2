"""Real Gaunt coefficients, the Poisson-bracket factors, and the sphere quadrature they rest on."""

import numpy as np
import pytest
import sympy
import torch
from sympy.physics.quantum.cg import CG

from equitools.so3 import bracket_factor, clebsch_gordan, gaunt, gaunt_factor, spherical_harmonics
from equitools.so3.quadrature import (
    azimuthal_frequency,
    gauss_legendre_grid,
    grid_size,
    polar_factor,
    polar_fourier,
    sphere_points,
)
from equitools.testing import assert_close

L_MAX = 5
TRIPLES = [
    (a, b, c) for a in range(L_MAX + 1) for b in range(L_MAX + 1) for c in range(abs(a - b), min(a + b, L_MAX) + 1)
]


def _grid(degree):
    """Grid points (n_theta, n_phi, 3) and weights (n_theta, n_phi), exact up to ``degree``."""
    theta, phi, w = gauss_legendre_grid(*grid_size(degree))
    t, p = np.meshgrid(theta, phi, indexing="ij")
    return sphere_points(t, p), np.broadcast_to(w[:, None], t.shape)


def _surface_gradients(l, points):
    """∇Y_l on the sphere ``(..., 2l+1, 3)`` by autograd (normalised input: the gradient is tangential)."""
    x = torch.tensor(points.reshape(-1, 3), requires_grad=True)
    y = spherical_harmonics(l, x)
    grads = [torch.autograd.grad(y[:, i].sum(), x, retain_graph=True)[0].numpy() for i in range(2 * l + 1)]
    return np.stack(grads, axis=1).reshape(points.shape[:-1] + (2 * l + 1, 3))


def test_gaunt_equals_the_integral_of_three_harmonics():
    points, w = _grid(3 * L_MAX)
    y = [spherical_harmonics(l, points) for l in range(L_MAX + 1)]
    for l1, l2, l3 in TRIPLES:
        integral = np.einsum("ija,ijb,ijc,ij->abc", y[l1], y[l2], y[l3], w)
        assert_close(gaunt(l1, l2, l3), integral, rtol=0, atol=1e-14, what=f"gaunt{l1, l2, l3}")


@pytest.mark.parametrize("l1,l2,l3", [t for t in TRIPLES if sum(t) % 2 == 0])
def test_gaunt_factor_matches_the_textbook_formula(l1, l2, l3):
    """|g| = sqrt((2l1+1)(2l2+1) / 4π(2l3+1)) |<l1 0 l2 0 | l3 0>| (sympy's independent CG)."""
    textbook = (
        sympy.sqrt(sympy.Rational((2 * l1 + 1) * (2 * l2 + 1), 2 * l3 + 1) / (4 * sympy.pi))
        * CG(l1, 0, l2, 0, l3, 0).doit()
    )
    assert abs(abs(gaunt_factor(l1, l2, l3)) - abs(float(textbook))) < 1e-15
    assert abs(gaunt_factor(l1, l2, l3)) > 1e-3
    assert_close(gaunt(l1, l2, l3), gaunt_factor(l1, l2, l3) * clebsch_gordan(l1, l2, l3), rtol=0, atol=1e-16)


def test_gaunt_vanishes_for_odd_degree_sums_and_is_symmetric():
    for l1, l2, l3 in TRIPLES:
        g = gaunt(l1, l2, l3)
        if (l1 + l2 + l3) % 2:
            assert gaunt_factor(l1, l2, l3) == 0 and not g.any()
        else:
            assert_close(np.transpose(gaunt(l2, l1, l3), (1, 0, 2)), g, rtol=0, atol=1e-15)
            assert_close(np.transpose(gaunt(l3, l2, l1), (2, 1, 0)), g, rtol=0, atol=1e-15)


@pytest.mark.parametrize("l1,l2,l3", [(1, 1, 2), (2, 2, 2), (1, 2, 3), (3, 2, 3), (0, 3, 3)])
def test_gaunt_exact(l1, l2, l3):
    exact = gaunt(l1, l2, l3, exact=True)
    for value in sympy.flatten(exact.tolist()):
        assert (value**2 * sympy.pi).is_Rational, value
    assert_close(np.array(exact.tolist(), dtype=float), gaunt(l1, l2, l3), rtol=0, atol=1e-15)


def test_bracket_factor_equals_the_integral_of_the_poisson_bracket():
    """∫ Y_l3 r̂·(∇Y_l1 × ∇Y_l2) dΩ = h · CG, with h from the closed form at the pole."""
    L = 4
    points, w = _grid(3 * L - 1)
    y = [spherical_harmonics(l, points) for l in range(L + 1)]
    grads = [_surface_gradients(l, points) for l in range(L + 1)]
    for l1, l2, l3 in [t for t in TRIPLES if max(t) <= L]:
        bracket = np.einsum("ijx,ijabx->ijab", points, np.cross(grads[l1][:, :, :, None], grads[l2][:, :, None, :]))
        integral = np.einsum("ijab,ijc,ij->abc", bracket, y[l3], w)
        expected = bracket_factor(l1, l2, l3) * clebsch_gordan(l1, l2, l3)
        assert_close(integral, expected, rtol=0, atol=1e-13, what=f"bracket{l1, l2, l3}")


def test_bracket_reaches_every_odd_path():
    for l1 in range(1, 9):
        for l2 in range(1, 9):
            for l3 in range(abs(l1 - l2), min(l1 + l2, 8) + 1):
                h = bracket_factor(l1, l2, l3)
                assert (abs(h) > 1e-3) == ((l1 + l2 + l3) % 2 == 1), (l1, l2, l3, h)
    # the l = 1 bracket is the cross product: {x·r, y·r} = r·(x × y)
    a, b = np.array([0.3, -1.0, 2.0]), np.array([1.0, 0.5, -0.7])
    r = np.array([0.2, 0.9, -0.4]) / np.linalg.norm([0.2, 0.9, -0.4])
    scale = np.sqrt(3 / (4 * np.pi))  # Y_1(r) = scale · r
    ca, cb = a / scale, b / scale  # coefficients of the linear functions a·r and b·r
    z = np.einsum("i,j,ijk->k", ca, cb, bracket_factor(1, 1, 1) * clebsch_gordan(1, 1, 1))
    assert abs(z @ spherical_harmonics(1, r) - r @ np.cross(a, b)) < 1e-14


@pytest.mark.parametrize("l1,l2,l3", [(1, 1, 1), (2, 1, 2), (2, 3, 2), (3, 3, 1)])
def test_bracket_factor_exact(l1, l2, l3):
    exact = bracket_factor(l1, l2, l3, exact=True)
    assert (exact**2 * sympy.pi).is_Rational
    assert abs(float(exact) - bracket_factor(l1, l2, l3)) < 1e-15 * abs(float(exact))


@pytest.mark.parametrize("bad", [(1, 1, 3), (-1, 0, 1), (0.5, 1, 1)])
def test_bad_degrees_raise(bad):
    for function in (gaunt, gaunt_factor, bracket_factor):
        with pytest.raises(ValueError, match="triangle|non-negative"):
            function(*bad)


def test_harmonics_separate_into_exact_polar_fourier_series():
    L = 8
    rng = np.random.default_rng(0)
    theta, phi = rng.uniform(0, np.pi, 40), rng.uniform(0, 2 * np.pi, 40)
    m = azimuthal_frequency(L)[:, None]
    azimuthal = np.where(m > 0, np.cos(m * phi), np.where(m < 0, np.sin(-m * phi), 1.0))
    reference = np.concatenate([spherical_harmonics(l, sphere_points(theta, phi)) for l in range(L + 1)], axis=1).T
    assert_close(polar_factor(L, theta) * azimuthal, reference, rtol=0, atol=2e-14)
    # structural zeros are exact: only u ≡ l (mod 2), |u| <= l
    T = polar_fourier(L)
    l = np.repeat(np.arange(L + 1), 2 * np.arange(L + 1) + 1)[:, None]
    u = np.arange(-L, L + 1)[None, :]
    assert not T[((u - l) % 2 == 1) | (np.abs(u) > l)].any()
    # derivative by the series equals a finite difference
    h = 1e-6
    fd = (polar_factor(L, theta + h) - polar_factor(L, theta - h)) / (2 * h)
    assert_close(polar_factor(L, theta, derivative=1), fd, rtol=1e-7, atol=1e-6)


def test_gauss_legendre_grid_is_exact_up_to_its_degree():
    points, w = _grid(10)
    y5 = spherical_harmonics(5, points)
    assert_close(np.einsum("ija,ijb,ij->ab", y5, y5, w), np.eye(11), rtol=0, atol=1e-14)
    assert grid_size(10) == (6, 11)
