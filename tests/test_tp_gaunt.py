"""GauntTensorProduct on channels-last features: three methods, one product; its relation to the CG
product; symmetry; grads."""

import pytest
import torch
from e3nn import o3
from helpers import one_torch_thread  # noqa: F401 (fixture)
from helpers import random_float64 as _random

from equitools.so3 import bracket_factor, gaunt, gaunt_factor
from equitools.testing import assert_close, assert_module_equivariant
from equitools.tp import CGTensorProduct, GauntTensorProduct

METHODS = ("fourier", "grid", "dense")
VARIANTS = {
    "fourier": dict(method="fourier"),
    "grid": dict(method="grid"),
    "grid_fft": dict(method="grid", phi_transform="fft"),
    "dense": dict(method="dense"),
}
F64 = dict(dtype=torch.float64)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _pseudo(L):
    """Irreps 0o+1e+2o+...: parities (-1)^(l+1) of the bracket paths."""
    return o3.Irreps([(1, (l, (-1) ** (l + 1))) for l in range(L + 1)])


def _flat(tp):
    """The product on flat features ``(..., dim)`` (one channel), for checks written per channel."""
    return lambda x, y: tp(x.unsqueeze(-1), y.unsqueeze(-1)).squeeze(-1)


@pytest.mark.parametrize("L", range(9))
def test_three_methods_agree_up_to_degree_8(L):
    x, y = _random(5, (L + 1) ** 2, 3, seed=L), _random(5, (L + 1) ** 2, 3, seed=L + 100)  # (N, dim, C)
    out = {name: GauntTensorProduct(L, L, L, parity_odd=True, **kw)(x, y) for name, kw in VARIANTS.items()}
    scale = float(out["dense"].abs().max())
    for name in ("fourier", "grid", "grid_fft"):
        assert_close(out[name], out["dense"], rtol=1e-10 / max(scale, 1), atol=1e-10, what=f"{name}, L={L}")


@pytest.mark.parametrize("L1,L2,L_out", [(3, 5, 2), (6, 2, 8), (0, 4, 4), (2, 2, 7), (5, 0, 1)])
def test_three_methods_agree_on_unequal_degrees(L1, L2, L_out):
    x, y = _random(2, 3, (L1 + 1) ** 2, 4), _random(3, (L2 + 1) ** 2, 1, seed=1)  # leading dims and C = 1 broadcast
    out = {name: GauntTensorProduct(L1, L2, L_out, parity_odd=True, **kw)(x, y) for name, kw in VARIANTS.items()}
    assert out["dense"].shape == (2, 3, 2 * (L_out + 1) ** 2, 4)
    single = GauntTensorProduct(L1, L2, L_out, parity_odd=True, method="dense")
    for c in range(4):  # channel by channel
        assert_close(out["dense"][..., c], _flat(single)(x[..., c], y[..., 0].expand(2, 3, -1)), rtol=0, atol=1e-13)
    for name in ("fourier", "grid", "grid_fft"):
        assert_close(out[name], out["dense"], rtol=0, atol=1e-12, what=name)


def test_dense_is_the_contraction_with_gaunt_coefficients():
    L1, L2, L_out = 2, 3, 4
    x, y = _random((L1 + 1) ** 2), _random((L2 + 1) ** 2, seed=1)
    expected = torch.zeros((L_out + 1) ** 2, **F64)
    for l1 in range(L1 + 1):
        for l2 in range(L2 + 1):
            for l3 in range(abs(l1 - l2), min(l1 + l2, L_out) + 1):
                g = torch.tensor(gaunt(l1, l2, l3))
                expected[l3 * l3 : (l3 + 1) ** 2] += torch.einsum(
                    "a,b,abc->c", x[l1 * l1 : (l1 + 1) ** 2], y[l2 * l2 : (l2 + 1) ** 2], g
                )
    assert_close(_flat(GauntTensorProduct(L1, L2, L_out, method="dense"))(x, y), expected, rtol=0, atol=1e-14)


def test_grid_equals_e3nn_s2grid_product():
    """e3nn's own grid (ToS2Grid x ToS2Grid -> FromS2Grid, "integral") computes the same product."""
    L = 4
    x, y = _random(3, (L + 1) ** 2), _random(3, (L + 1) ** 2, seed=1)
    res = (3 * L + 2, 3 * L + 1)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # e3nn computes parts of its grids in the default dtype
    try:
        to_grid, from_grid = (
            o3.ToS2Grid(L, res, normalization="integral"),
            o3.FromS2Grid(res, L, normalization="integral"),
        )
    finally:
        torch.set_default_dtype(default)
    assert_close(_flat(GauntTensorProduct(L, L, L))(x, y), from_grid(to_grid(x) * to_grid(y)), rtol=0, atol=1e-12)


def test_product_of_functions_on_the_sphere():
    """z are the harmonic coefficients of f·g: evaluate both sides at points (L_out = L1 + L2)."""
    L1, L2 = 3, 2
    x, y = _random((L1 + 1) ** 2), _random((L2 + 1) ** 2, seed=1)
    z = _flat(GauntTensorProduct(L1, L2, L1 + L2))(x, y)
    r = torch.nn.functional.normalize(_random(20, 3, seed=2), dim=-1)
    sh = o3.spherical_harmonics(list(range(L1 + L2 + 1)), r, normalize=True, normalization="integral")
    n1, n2 = (L1 + 1) ** 2, (L2 + 1) ** 2
    assert_close(sh @ z, (sh[:, :n1] @ x) * (sh[:, :n2] @ y), rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_gaunt_is_the_cg_product_on_even_paths_with_gaunt_factors(method):
    L1, L2, L_out = 3, 4, 5
    x, y = _random(4, (L1 + 1) ** 2), _random(4, (L2 + 1) ** 2, seed=1)
    z = _flat(GauntTensorProduct(L1, L2, L_out, method=method, parity_odd=True))(x, y)
    z = z.view(4, 2, (L_out + 1) ** 2)  # the Gaunt paths, then the bracket's
    for part, irreps_out, factor in (
        (0, o3.Irreps.spherical_harmonics(L_out), gaunt_factor),
        (1, _pseudo(L_out), bracket_factor),
    ):
        cg = CGTensorProduct(
            o3.Irreps.spherical_harmonics(L1),
            o3.Irreps.spherical_harmonics(L2),
            irreps_out,
            weights="path",
            internal_weights=False,
            path_normalization=False,
        )
        assert all((p.l1 + p.l2 + p.l3) % 2 == part for p in cg.paths)  # parity selects the paths
        weight = torch.tensor([factor(p.l1, p.l2, p.l3) for p in cg.paths], **F64)
        assert_close(z[:, part], cg(x, y, weight=weight), rtol=0, atol=1e-12, what=f"part {part}")


def test_gaunt_has_no_cross_product_but_the_bracket_has():
    a, b = torch.tensor([0.3, -1.0, 2.0], **F64), torch.tensor([1.0, 0.5, -0.7], **F64)
    x, y = torch.cat([torch.zeros(1, **F64), a]), torch.cat([torch.zeros(1, **F64), b])
    z = _flat(GauntTensorProduct(1, 1, 2, parity_odd=True))(x, y).view(2, 9)
    assert_close(z[0, 1:4], torch.zeros(3, **F64), rtol=0, atol=1e-15)  # no l = 1 from 1 ⊗ 1 in a Gaunt product
    cross = torch.linalg.cross(a, b)
    assert_close(z[1, 1:4] / z[1, 1:4].norm(), cross / cross.norm(), rtol=0, atol=1e-14)
    assert_close(z[1, [0] + list(range(4, 9))], torch.zeros(6, **F64), rtol=0, atol=1e-15)


@pytest.mark.parametrize("method", METHODS)
def test_equivariant_under_rotations_and_reflections(method):
    L1, L2, L_out = 3, 2, 4
    tp = GauntTensorProduct(L1, L2, L_out, method=method, parity_odd=True)
    assert tp.irreps_out == o3.Irreps.spherical_harmonics(L_out) + _pseudo(L_out)
    C = 2  # channels last: (3, C·dim) flat → (3, dim, C)
    last = lambda x: x.view(3, C, -1).transpose(1, 2)  # noqa: E731
    repeat = lambda irreps: "+".join([str(irreps)] * C)  # noqa: E731
    sh = [repeat(o3.Irreps.spherical_harmonics(L)) for L in (L1, L2)]
    assert_module_equivariant(
        lambda x, y: tp(last(x), last(y)).transpose(1, 2).reshape(3, -1), sh, repeat(tp.irreps_out)
    )


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradcheck(variant):
    tp = GauntTensorProduct(2, 1, 2, parity_odd=True, weights="degree", **VARIANTS[variant]).double()
    x, y = _random(2, 9, 2).requires_grad_(), _random(2, 4, 1, seed=1).requires_grad_()
    assert torch.autograd.gradcheck(tp, (x, y))
    small = GauntTensorProduct(1, 1, 1, parity_odd=True, **VARIANTS[variant])
    assert torch.autograd.gradgradcheck(small, (x[:1, :4], y[:1]))
    tp(x, y).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in tp.parameters())


@pytest.mark.parametrize("method", METHODS)
def test_float32(method):
    x, y = _random(3, 25, 4), _random(3, 16, 4, seed=1)
    tp = GauntTensorProduct(4, 3, 4, method=method)
    z32 = tp(x.float(), y.float())
    assert z32.dtype == torch.float32
    assert_close(z32, tp(x, y), rtol=1e-5, atol=1e-5)


def test_degree_weights_per_channel():
    C, L = 3, 2
    tp = GauntTensorProduct(L, L, L, weights="degree", channels=C, parity_odd=True).double()
    with torch.no_grad():
        for p in tp.parameters():
            p.copy_(_random(*p.shape, seed=p.numel()))
    x, y = _random(4, 9, C), _random(4, 9, 1, seed=1)
    assert tp.weight1.shape == (L + 1, C) and tp.weight_out.shape == (2 * (L + 1), C)
    plain = GauntTensorProduct(L, L, L, parity_odd=True)
    deg = torch.tensor([0, 1, 1, 1, 2, 2, 2, 2, 2])
    expected = plain(x * tp.weight1[deg], y * tp.weight2[deg]) * tp.weight_out[torch.cat([deg, deg + L + 1])]
    assert_close(tp(x, y), expected, rtol=0, atol=1e-13)
    with pytest.raises(ValueError, match=r"\(\.\.\., 9, 3\)"):
        tp(_random(4, 9, 2), y)


def test_bad_arguments_give_clear_errors():
    with pytest.raises(ValueError, match="method"):
        GauntTensorProduct(2, 2, 2, method="fft")
    with pytest.raises(ValueError, match="L_out"):
        GauntTensorProduct(2, 2, -1)
    with pytest.raises(ValueError, match="weights"):
        GauntTensorProduct(2, 2, 2, weights="path")
    with pytest.raises(ValueError, match="phi_transform applies to method='grid'"):
        GauntTensorProduct(2, 2, 2, method="dense", phi_transform="fft")
    with pytest.raises(ValueError, match="phi_transform must be"):
        GauntTensorProduct(2, 2, 2, phi_transform="dft")
    tp = GauntTensorProduct(2, 1, 2)
    with pytest.raises(ValueError, match=r"x has shape \(3, 8, 1\); expected \(\.\.\., 9, C\)"):
        tp(torch.zeros(3, 8, 1), torch.zeros(3, 4, 1))
    with pytest.raises(ValueError, match=r"x has shape \(3, 9\)"):  # the channel axis is required
        tp(torch.zeros(3, 9), torch.zeros(3, 4))
    with pytest.raises(RuntimeError):  # channels neither equal nor 1
        tp(torch.zeros(3, 9, 2), torch.zeros(3, 4, 3))
    with pytest.raises(TypeError, match="floating"):
        tp(torch.zeros(3, 9, 1, dtype=torch.long), torch.zeros(3, 4, 1))


def test_irreps_out():
    assert GauntTensorProduct(1, 1, 3).irreps_out == o3.Irreps("0e+1o+2e+3o")
    assert GauntTensorProduct(1, 1, 1, parity_odd=True).irreps_out == o3.Irreps("0e+1o+0o+1e")


@pytest.mark.parametrize("variant", VARIANTS)
def test_empty_input_gives_an_empty_output(variant):
    tp = GauntTensorProduct(2, 1, 3, parity_odd=True, **VARIANTS[variant])
    out = tp(torch.zeros(0, 9, 4), torch.zeros(0, 4, 4))
    assert out.shape == (0, tp.irreps_out.dim, 4)
    assert tp(torch.zeros(2, 0, 9, 4), torch.zeros(1, 4, 1)).shape == (2, 0, tp.irreps_out.dim, 4)
