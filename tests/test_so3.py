import subprocess
import sys

import numpy as np
import pytest
import sympy
import torch
from e3nn import o3

from equitools.so3 import clebsch_gordan, complex_to_real, spherical_harmonics, wigner_D, wigner_D_all
from equitools.so3._backend import _TORCH_TABLES
from equitools.testing import assert_close, random_orthogonal, random_rotation

TRIPLES = [(a, b, c) for a in range(7) for b in range(7) for c in range(abs(a - b), a + b + 1)]


@pytest.mark.parametrize("l1,l2,l3", TRIPLES)
def test_cg_equals_e3nn_wigner_3j_up_to_sign(l1, l2, l3):
    c = clebsch_gordan(l1, l2, l3)
    w = o3.wigner_3j(l1, l2, l3, dtype=torch.float64).numpy() * np.sqrt(2 * l3 + 1)
    sign = np.sign(np.sum(c * w))
    assert sign != 0
    assert_close(c, sign * w, rtol=0, atol=1e-12, what=f"CG {l1, l2, l3}")


@pytest.mark.parametrize("l1,l2,l3", [t for t in TRIPLES if max(t) <= 5])
def test_cg_orthonormal_and_equivariant(l1, l2, l3):
    c = clebsch_gordan(l1, l2, l3)
    assert c.shape == (2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1)
    assert_close(np.einsum("abm,abn->mn", c, c), np.eye(2 * l3 + 1), rtol=0, atol=1e-13)
    R = random_rotation(l1 * 49 + l2 * 7 + l3)
    d1, d2, d3 = (wigner_D(l, R) for l in (l1, l2, l3))
    lhs = np.einsum("mn,abn->abm", d3, c)
    rhs = np.einsum("ijm,ia,jb->abm", c, d1, d2)  # C_mat (D1 ⊗ D2), C_mat[m, (a, b)] = c[a, b, m]
    assert_close(lhs, rhs, rtol=0, atol=1e-12, what="D(l3) C = C (D(l1) ⊗ D(l2))")


def test_cg_orthogonal_between_different_l3():
    c2, c3 = clebsch_gordan(2, 3, 2), clebsch_gordan(2, 3, 3)
    assert_close(np.einsum("abm,abn->mn", c2, c3), np.zeros((5, 7)), rtol=0, atol=1e-14)


@pytest.mark.parametrize("l1,l2,l3", [(1, 1, 0), (1, 1, 1), (1, 1, 2), (2, 2, 2), (2, 1, 3), (3, 2, 4)])
def test_cg_exact_is_square_roots_of_rationals_and_orthonormal(l1, l2, l3):
    c = clebsch_gordan(l1, l2, l3, exact=True)
    for value in sympy.flatten(c.tolist()):
        assert (value**2).is_Rational, value
    m = sympy.Matrix(2 * l3 + 1, (2 * l1 + 1) * (2 * l2 + 1), lambda i, j: c[j // (2 * l2 + 1), j % (2 * l2 + 1), i])
    assert sympy.simplify(m * m.T - sympy.eye(2 * l3 + 1)) == sympy.zeros(2 * l3 + 1)
    assert_close(np.array(c.tolist(), dtype=float), clebsch_gordan(l1, l2, l3), rtol=0, atol=1e-15)


def test_cg_antisymmetric_path_is_cross_product():
    c = clebsch_gordan(1, 1, 1)
    a, b = np.array([1.0, 2.0, -0.5]), np.array([0.3, -1.0, 2.0])
    out = np.einsum("i,j,ijk->k", a, b, c)
    cross = np.cross(a, b)
    assert_close(out, cross * (out @ cross) / (cross @ cross), rtol=0, atol=1e-14)
    assert abs(abs(out @ cross) / (cross @ cross) - 1 / np.sqrt(2)) < 1e-14


@pytest.mark.parametrize("bad", [(-1, 1, 1), (1, 1, 3), (0, 2, 1), (1.5, 1, 1), (True, 1, 1)])
def test_cg_rejects_bad_degrees(bad):
    with pytest.raises(ValueError, match="triangle|non-negative"):
        clebsch_gordan(*bad)


def test_cg_is_cached_and_read_only():
    c = clebsch_gordan(3, 3, 2)
    assert c is clebsch_gordan(3, 3, 2)
    with pytest.raises(ValueError):
        c[0, 0, 0] = 1.0


@pytest.mark.parametrize("l", range(6))
def test_complex_to_real_is_unitary(l):
    u = complex_to_real(l)
    assert_close(u @ u.conj().T, np.eye(2 * l + 1), rtol=0, atol=1e-14)


@pytest.mark.parametrize("l", range(9))
def test_wigner_D_is_orthogonal_representation_matching_e3nn(l):
    R1, R2 = random_rotation(1), random_rotation(2)
    d = wigner_D(l, R1)
    assert_close(d @ d.T, np.eye(2 * l + 1), rtol=0, atol=1e-13)
    assert_close(wigner_D(l, R1 @ R2), d @ wigner_D(l, R2), rtol=0, atol=1e-12)
    e3nn_d = o3.Irrep(l, 1).D_from_matrix(torch.tensor(R1)).numpy()
    assert_close(d, e3nn_d, rtol=0, atol=1e-5, what="e3nn D_from_matrix (angle round trip limits it)")


def test_wigner_D_l1_is_R_and_improper_has_parity():
    R = random_rotation(3)
    assert_close(wigner_D(1, R), R, rtol=0, atol=1e-15)
    for l in range(5):
        assert_close(wigner_D(l, -R), (-1) ** l * wigner_D(l, R), rtol=0, atol=1e-13)


def test_wigner_D_torch_batched_and_autograd():
    R = torch.tensor(random_rotation(4, count=6), requires_grad=True)
    d = wigner_D(3, R)
    assert d.shape == (6, 7, 7) and d.dtype == torch.float64
    assert_close(d[2], wigner_D(3, R.detach().numpy()[2]), rtol=0, atol=1e-14)
    d.sum().backward()
    assert torch.isfinite(R.grad).all()


def test_wigner_D_rejects_bad_shape():
    with pytest.raises(ValueError, match="shape"):
        wigner_D(2, np.eye(4))
    with pytest.raises(ValueError, match="shape"):
        wigner_D_all(2, np.eye(4))
    with pytest.raises(ValueError, match="non-negative"):
        wigner_D_all(-1, np.eye(3))


def _per_degree_reference(l, R):
    """D(l) by the recursion from degree 1 written out with einsum (the definition)."""
    d = np.ones((len(R), 1, 1)) if l == 0 else R
    for k in range(1, l):
        c = clebsch_gordan(k, 1, k + 1)
        d = np.einsum("abi,nac,nbd,cdj->nij", c, d, R, c)
    return d


def test_wigner_D_all_equals_per_degree_float64():
    R = np.concatenate([random_rotation(5, count=4), -random_rotation(6, count=3)])
    every = wigner_D_all(8, R)
    assert len(every) == 9
    for l, d in enumerate(every):
        assert d.shape == (7, 2 * l + 1, 2 * l + 1)
        assert_close(d, wigner_D(l, R), rtol=0, atol=1e-12)
        assert_close(d, _per_degree_reference(l, R), rtol=0, atol=1e-12, what=f"l={l}")
    Rt = torch.tensor(R)
    for l, d in enumerate(wigner_D_all(8, Rt)):
        assert d.dtype == torch.float64
        assert_close(d, every[l], rtol=0, atol=1e-12, what=f"torch l={l}")


def test_wigner_D_all_float32_within_float32_tolerance():
    R = random_rotation(7, count=50)
    reference = wigner_D_all(6, R)
    for l, d in enumerate(wigner_D_all(6, torch.tensor(R, dtype=torch.float32))):
        assert d.dtype == torch.float32
        assert_close(d, reference[l], rtol=0, atol=20 * np.finfo(np.float32).eps * (l + 1), what=f"float32 l={l}")


def test_wigner_D_all_torch_tables_cached_per_dtype_and_device():
    from equitools.so3._backend import _TORCH_TABLES

    R = torch.tensor(random_rotation(8, count=2))
    wigner_D_all(4, R)
    tables = {k: v for k, v in _TORCH_TABLES.items() if "wigner" in k[0]}
    wigner_D_all(4, R.float())
    wigner_D_all(4, R)
    assert all(_TORCH_TABLES[k] is v for k, v in tables.items())  # reused, not rebuilt
    assert {k[2] for k in _TORCH_TABLES if "wigner" in k[0]} >= {torch.float32, torch.float64}


def test_torch_tables_load_no_dynamo_eagerly_and_are_made_under_torch_compile():
    """The first torch call of a table is a plain call (importing dynamo costs seconds); a table
    first made while dynamo traces is made eagerly, with the same numbers."""
    code = (
        "import sys, torch; from equitools.so3 import wigner_D; wigner_D(3, torch.eye(3)); "
        "print('torch._dynamo' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
    v = torch.tensor(np.random.default_rng(2).standard_normal((5, 3)))
    compiled = torch.compile(lambda x: spherical_harmonics(range(4), x, normalization="norm"), backend="eager")
    for key in [k for k in _TORCH_TABLES if k[2] == torch.float64 and "harmonics" in k[0]]:
        del _TORCH_TABLES[key]  # made anew inside the trace
    assert torch.equal(compiled(v), spherical_harmonics(range(4), v, normalization="norm"))


def test_wigner_D_all_empty_batch_and_lmax_zero():
    assert [d.shape for d in wigner_D_all(3, np.zeros((0, 3, 3)))] == [(0, 1, 1), (0, 3, 3), (0, 5, 5), (0, 7, 7)]
    assert wigner_D_all(0, torch.eye(3))[0].tolist() == [[1.0]]


@pytest.mark.parametrize("l", range(9))
@pytest.mark.parametrize("normalization", ["integral", "component", "norm"])
def test_spherical_harmonics_match_e3nn_and_rotate_with_D(l, normalization):
    v = np.random.default_rng(l).standard_normal((20, 3))
    y = spherical_harmonics(l, v, normalization=normalization)
    ref = o3.spherical_harmonics(l, torch.tensor(v), True, normalization=normalization).numpy()
    assert_close(y, ref, rtol=1e-13, atol=1e-13)
    R = random_orthogonal(l)
    assert_close(spherical_harmonics(l, v @ R.T, normalization=normalization), y @ wigner_D(l, R).T, rtol=0, atol=1e-12)


@pytest.mark.parametrize("degrees", [range(5), [0, 2, 3], [4, 1]])
def test_spherical_harmonics_of_several_degrees_match_e3nn_and_one_by_one(degrees):
    v = torch.tensor(np.random.default_rng(1).standard_normal((7, 3)), requires_grad=True)
    y = spherical_harmonics(degrees, v, normalization="component")
    one_by_one = torch.cat([spherical_harmonics(l, v, normalization="component") for l in degrees], dim=-1)
    assert torch.equal(y, one_by_one)
    assert_close(
        y.detach().numpy(),
        o3.spherical_harmonics(list(degrees), v, True, normalization="component").detach().numpy(),
        rtol=0,
        atol=1e-13,
    )
    y.sum().backward()
    assert torch.isfinite(v.grad).all()
    with pytest.raises(ValueError, match="at least one degree"):
        spherical_harmonics([], v)


def test_spherical_harmonics_integral_normalization_by_quadrature():
    x, w = np.polynomial.legendre.leggauss(12)
    phi = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ct, p = np.meshgrid(x, phi, indexing="ij")
    st = np.sqrt(1 - ct**2)
    pts = np.stack([st * np.cos(p), ct, st * np.sin(p)], -1).reshape(-1, 3)
    weights = (w[:, None] * np.full(24, 2 * np.pi / 24)).reshape(-1)
    ys = np.concatenate([spherical_harmonics(l, pts) for l in range(6)], axis=-1)
    assert_close((ys * weights[:, None]).T @ ys, np.eye(36), rtol=0, atol=1e-12)


def test_spherical_harmonics_torch_and_zero_vector():
    v = torch.zeros(2, 3, dtype=torch.float64)
    v[1, 2] = 2.0
    y = spherical_harmonics(2, v)
    assert torch.isfinite(y).all() and torch.all(y[0] == 0)
    with pytest.raises(ValueError, match="normalization"):
        spherical_harmonics(1, v, normalization="bad")
