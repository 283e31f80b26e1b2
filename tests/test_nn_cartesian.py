"""CartesianLinear: equivariance (float64 and float32), completeness against characters,
orthonormal basis maps, batching, gradients, initialisation and errors."""

import numpy as np
import pytest
import torch

from equitools.nn import CartesianLinear, EquivariantLinear
from equitools.so3 import Irreps
from equitools.testing import assert_close, kron_power, random_orthogonal, random_rotation

PAIRS = [(1, 1, "O(3)"), (2, 2, "O(3)"), (1, 3, "O(3)"), (3, 1, "O(3)"), (2, 4, "O(3)"), (4, 4, "O(3)")]
PAIRS += [(1, 2, "SO(3)"), (2, 3, "SO(3)"), (3, 3, "SO(3)")]


def _random(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _act(R: np.ndarray, rank: int, x: torch.Tensor) -> torch.Tensor:
    """R ⊗ … ⊗ R on the Cartesian axis (-2) of ``(..., 3**rank, C)``."""
    return torch.as_tensor(kron_power(R, rank), dtype=x.dtype) @ x


def _maps(layer: CartesianLinear) -> np.ndarray:
    """The module's basis maps ``(K, 3**rank_out, 3**rank_in)``, read off its forward with one-hot weights."""
    eye = torch.eye(3**layer.rank_in, dtype=torch.float64).unsqueeze(-1)  # row n: the unit tensor e_n
    maps = []
    with torch.no_grad():
        for k in range(len(layer.basis)):
            layer.weight.zero_()
            layer.weight[k] = 1.0
            maps.append(layer(eye)[..., 0].T.numpy())
    return np.stack(maps)


@pytest.mark.parametrize("rank_in, rank_out, group", PAIRS)
def test_equivariant_float64(rank_in, rank_out, group):
    layer = CartesianLinear(rank_in, rank_out, 3, 2, group=group).double()
    x = _random(5, 3**rank_in, 3)
    y = layer(x)
    assert y.shape == (5, 3**rank_out, 2)
    matrices = [random_rotation(1), random_rotation(2)] + ([random_orthogonal(3)] if group == "O(3)" else [])
    for R in matrices:
        assert_close(layer(_act(R, rank_in, x)), _act(R, rank_out, y), rtol=1e-10, what=f"{rank_in}->{rank_out}")


def test_so3_map_is_not_reflection_equivariant():
    """The rank 1 -> 2 map (Levi-Civita) exists under SO(3) only: a reflection flips its sign."""
    layer = CartesianLinear(1, 2, 2, 2, group="SO(3)").double()
    x = _random(4, 3, 2)
    R = random_orthogonal(5)
    assert_close(layer(_act(R, 1, x)), -_act(R, 2, layer(x)), rtol=1e-10, what="pseudo-tensor sign")
    with pytest.raises(ValueError, match="no O\\(3\\)-equivariant"):
        CartesianLinear(1, 2, 2, 2)


@pytest.mark.parametrize("rank_in, rank_out", [(2, 2), (3, 1), (4, 4)])
def test_equivariant_float32(rank_in, rank_out):
    layer = CartesianLinear(rank_in, rank_out, 8, 4)
    x = _random(6, 3**rank_in, 8, dtype=torch.float32)
    y = layer(x)
    assert y.dtype == torch.float32
    for R in (random_rotation(7), random_orthogonal(8)):
        assert_close(layer(_act(R, rank_in, x)), _act(R, rank_out, y), rtol=1e-5, atol=1e-6, what="float32")


def _character_dimension(rank_in: int, rank_out: int, group: str) -> int:
    """dim Hom_G(V_in, V_out) = ∫ χ_in χ_out over the group (Haar), from characters alone.

    A rotation by θ has character (1 + 2 cos θ)^r on rank-r tensors; the class density on SO(3)
    is (1 - cos θ)/π on [0, π]. The integrand is a trigonometric polynomial of degree
    rank_in + rank_out + 1 < 64, so the mean over 64 equispaced angles in [0, 2π) is exact.
    O(3) adds the inversion, of character (-1)^r (1 + 2 cos θ)^r on R·(-1).
    """
    theta = 2 * np.pi * np.arange(64) / 64
    chi = 1 + 2 * np.cos(theta)
    so3 = float(np.mean(chi ** (rank_in + rank_out) * (1 - np.cos(theta))))
    value = so3 if group == "SO(3)" else so3 * (1 + (-1) ** (rank_in + rank_out)) / 2
    assert abs(value - round(value)) < 1e-9
    return round(value)


@pytest.mark.parametrize("group", ["O(3)", "SO(3)"])
def test_complete_number_of_basis_maps(group):
    assert _character_dimension(4, 4, "O(3)") == 91  # the published count (Brauer diagrams span with 105)
    for rank_in in range(1, 5):
        for rank_out in range(1, 5):
            expected = _character_dimension(rank_in, rank_out, group)
            if expected == 0:
                with pytest.raises(ValueError, match="no .*equivariant linear map"):
                    CartesianLinear(rank_in, rank_out, 1, 1, group=group)
                continue
            layer = CartesianLinear(rank_in, rank_out, 1, 1, group=group)
            assert len(layer.basis) == layer.weight.shape[0] == expected, (rank_in, rank_out, group)


@pytest.mark.parametrize("rank_in, rank_out, group", [(2, 2, "O(3)"), (3, 3, "O(3)"), (2, 3, "SO(3)"), (4, 2, "O(3)")])
def test_basis_maps_are_orthonormal_and_the_layer_uses_them(rank_in, rank_out, group):
    layer = CartesianLinear(rank_in, rank_out, 1, 1, group=group).double()
    maps = _maps(layer)
    gram = np.einsum("aij,bij->ab", maps, maps)
    assert_close(gram, np.eye(len(maps)), atol=1e-12, what="Frobenius Gram matrix")
    assert_close(maps, layer.basis.matrices(), atol=1e-13, what="forward vs ict.equivariant_basis")
    for k, B in enumerate(maps):  # each map commutes with the group action
        R = random_rotation(k)
        assert_close(kron_power(R, rank_out) @ B, B @ kron_power(R, rank_in), atol=1e-12, what=f"map {k}")


def test_forward_is_the_weighted_sum_of_basis_maps():
    layer = CartesianLinear(3, 1, 4, 5).double()
    x = _random(7, 27, 4)
    B = torch.from_numpy(layer.basis.matrices())
    expected = torch.einsum("kij,njc,kcd->nid", B, x, layer.weight)
    assert_close(layer(x), expected, atol=1e-13, what="y = Σ_k B_k x W_k")


def test_rows_are_independent_and_leading_axes_are_kept():
    layer = CartesianLinear(2, 4, 3, 2).double()
    x = _random(6, 9, 3)
    y = layer(x)
    for n in range(6):
        assert_close(layer(x[n : n + 1])[0], y[n], atol=1e-14, what=f"row {n}")
    assert_close(layer(x.view(2, 3, 9, 3)), y.view(2, 3, 81, 2), atol=0, what="leading axes")
    assert layer(x[:0]).shape == (0, 81, 2)


def test_gradients_flow():
    layer = CartesianLinear(2, 2, 3, 3).double()
    x = _random(4, 9, 3).requires_grad_()
    layer(x).square().sum().backward()
    assert x.grad.abs().sum() > 0 and layer.weight.grad.abs().min() > 0  # every basis map gets a gradient
    small = CartesianLinear(2, 2, 2, 1).double()
    assert torch.autograd.gradcheck(
        lambda x, w: torch.func.functional_call(small, {"weight": w}, (x,)),
        (_random(2, 9, 2).requires_grad_(), small.weight.detach().clone().requires_grad_()),
    )


@pytest.mark.parametrize("rank_in, rank_out", [(2, 2), (3, 3), (1, 3)])
def test_initialisation_keeps_the_variance(rank_in, rank_out):
    torch.manual_seed(0)
    layer = CartesianLinear(rank_in, rank_out, 64, 64)
    x = _random(2000, 3**rank_in, 64, dtype=torch.float32)
    with torch.no_grad():
        y = layer(x)
    # every output irrep reached by an input irrep has unit variance; rank 1 -> 3 reaches the 9
    # components of the three l = 1 copies out of 27
    reached = 9 / 27 if (rank_in, rank_out) == (1, 3) else 1.0
    assert abs(float(y.var()) / reached - 1) < 0.15


def test_equivariant_linear_between_irreps_and_tensors():
    layer = EquivariantLinear("1x0e+1x1o+1x2e", 2, 3, 2).double()  # irreps -> rank-2 tensor
    x = _random(4, 9, 3)
    R = random_orthogonal(11)
    D = torch.as_tensor(Irreps("1x0e+1x1o+1x2e").D(R))
    assert_close(layer(D @ x), _act(R, 2, layer(x)), rtol=1e-10, what="irreps -> Cartesian")


@pytest.mark.parametrize(
    "args, match",
    [
        ((0, 2, 1, 1), "rank_in"),
        ((2, -1, 1, 1), "rank_out"),
        ((1.5, 2, 1, 1), "rank_in"),
        ((True, 2, 1, 1), "rank_in"),
        ((2, "2", 1, 1), "rank_out"),
        ((2, 2, 0, 1), "channels_in"),
        ((2, 2, 1, 2.0), "channels_out"),
    ],
)
def test_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        CartesianLinear(*args)


def test_bad_group_and_input():
    with pytest.raises(ValueError, match="group"):
        CartesianLinear(2, 2, 1, 1, group="E(3)")
    layer = CartesianLinear(2, 2, 3, 3)
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 9, 3\)"):
        layer(torch.randn(4, 27, 3))
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 9, 3\)"):
        layer(torch.randn(4, 9, 2))
    with pytest.raises(TypeError, match="floating-point"):
        layer(torch.ones(4, 9, 3, dtype=torch.long))
