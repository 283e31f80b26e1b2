"""The irreducible Cartesian tensor product (``nn.CartesianTensorProduct``): the CG product of the
spherical irreps up to the fixed change of basis of the ICT path matrices, ICTP's Cartesian
contractions up to one constant per path, traceless symmetric outputs, equivariance (float64 and
float32), gradients of any order, clear errors."""

from __future__ import annotations

import doctest
import itertools
import math

import numpy as np
import pytest
import scipy.linalg
import torch
from helpers import random_float64

from equitools.nn import CartesianTensorProduct
from equitools.nn import cartesian_product as module
from equitools.nn.cartesian_product import ict_rows
from equitools.so3.irreps import Irreps
from equitools.testing import assert_close, assert_module_equivariant, kron_power, random_orthogonal, random_rotation
from equitools.tp import CGTensorProduct

ICT3 = "0e+1o+2e+3o"


def to_compact(irreps) -> torch.Tensor:
    """Block-diagonal Cartesian → coefficient matrix of ``irreps`` (one ``ict_rows(l)`` per block)."""
    return torch.from_numpy(scipy.linalg.block_diag(*(ict_rows(ir.l) for _, ir in Irreps(irreps))))


def cartesian_action(irreps, R: np.ndarray) -> torch.Tensor:
    """How an orthogonal R acts on the Cartesian layout: R ⊗ … ⊗ R per block, times det R for a
    pseudotensor block (parity ≠ (-1)^l)."""
    det = np.linalg.det(R)
    blocks = [kron_power(R, ir.l) * (det if ir.p != (-1) ** ir.l else 1.0) for _, ir in Irreps(irreps)]
    return torch.from_numpy(scipy.linalg.block_diag(*blocks))


def random_ict(irreps, n: int, C: int, seed: int) -> torch.Tensor:
    """Random ICTs ``(n, Σ 3**l, C)`` (traceless symmetric per block), float64."""
    return to_compact(irreps).t() @ random_float64(n, Irreps(irreps).dim, C, seed=seed)


def same_weights(tp: CartesianTensorProduct, cg: CGTensorProduct, seed: int) -> None:
    if tp.weight_mode is not None:
        weight = random_float64(*tp.weight_shape, seed=seed)
        tp.weight.data, cg.weight.data = weight.clone(), weight.clone()


@pytest.mark.parametrize("weights", [None, "path", "channel"])
@pytest.mark.parametrize("group", ["O(3)", "SO(3)"])
def test_compact_product_is_the_cg_product(group, weights):
    tp = CartesianTensorProduct(ICT3, ICT3, ICT3, group=group, weights=weights, channels=4, compact=True).double()
    cg = CGTensorProduct(ICT3, ICT3, ICT3, group=group, weights=weights, channels=4).double()
    same_weights(tp, cg, seed=3)
    assert [tuple(p) for p in tp.paths] == [tuple(p) for p in cg.paths]
    assert len(tp.paths) == (23 if group == "O(3)" else 34)
    x1, x2 = random_float64(7, 16, 4, seed=1), random_float64(7, 16, 4, seed=2)
    assert_close(tp(x1, x2), cg(x1, x2), rtol=1e-12, atol=1e-14, what=f"compact product, {group}, weights {weights}")


@pytest.mark.parametrize(
    "irreps_in1, irreps_in2, irreps_out, group",
    [
        (ICT3, ICT3, None, "O(3)"),  # every output, pseudotensors from the odd paths included
        ("1o+2e", "0e+1o+3o", "0e+1o+2e+3o+4e", "SO(3)"),
        ("0e+1e+2e", "1o+2o", None, "O(3)"),  # a pseudovector input (TensorNet's A) and pseudotensors
    ],
)
def test_cartesian_product_is_the_cg_product_up_to_the_ict_change_of_basis(irreps_in1, irreps_in2, irreps_out, group):
    tp = CartesianTensorProduct(irreps_in1, irreps_in2, irreps_out, group=group, weights="channel", channels=3).double()
    cg = CGTensorProduct(irreps_in1, irreps_in2, tp.irreps_out, group=group, weights="channel", channels=3).double()
    same_weights(tp, cg, seed=4)
    q1, q2 = random_float64(5, tp.irreps_in1.dim, 3, seed=5), random_float64(5, tp.irreps_in2.dim, 3, seed=6)
    P1, P2, P_out = (to_compact(irreps) for irreps in (tp.irreps_in1, tp.irreps_in2, tp.irreps_out))
    out = tp(P1.t() @ q1, P2.t() @ q2)
    assert out.shape == (5, sum(3**ir.l for _, ir in tp.irreps_out), 3) and out.shape[1] == tp.dim_out
    expected = cg(q1, q2)
    assert_close(P_out @ out, expected, rtol=1e-12, atol=1e-14, what="coefficients of the Cartesian output")
    assert_close(out, P_out.t() @ expected, rtol=1e-12, atol=1e-14, what="the output is the ICT of those coefficients")


def detraced(T: torch.Tensor) -> torch.Tensor:
    """The traceless symmetric part of rank-0…3 tensors ``(n, 3, …, 3)`` (explicit formulas)."""
    rank = T.dim() - 1
    if rank < 2:
        return T
    S = sum(T.permute(0, *(1 + np.array(p))) for p in itertools.permutations(range(rank))) / math.factorial(rank)
    eye = torch.eye(3, dtype=T.dtype)
    if rank == 2:
        return S - eye * S.diagonal(dim1=1, dim2=2).sum(-1)[:, None, None] / 3
    c = S.diagonal(dim1=1, dim2=2).sum(-1)  # (n, 3): the one trace of a symmetric rank-3 tensor
    delta = eye[:, :, None] * c[:, None, None, :]
    return S - (delta + delta.permute(0, 1, 3, 2) + delta.permute(0, 3, 2, 1)) / 5


EPS = torch.zeros(3, 3, 3, dtype=torch.float64)
for (i, j, k), sign in zip(itertools.permutations(range(3)), (1, -1, -1, 1, 1, -1)):
    EPS[i, j, k] = sign

# ICTP's products (traceless symmetric part of k contractions, one Levi-Civita for odd a+b-c)
ICTP = {
    "1o x 1o -> 0e: a·b": ("1o", "1o", "0e", lambda a, b: torch.einsum("ni,ni->n", a, b)),
    "1o x 1o -> 2e: a⊗b": ("1o", "1o", "2e", lambda a, b: a[:, :, None] * b[:, None, :]),
    "1o x 1o -> 1e: a×b": ("1o", "1o", "1e", lambda a, b: torch.einsum("ijk,nj,nk->ni", EPS, a, b)),
    "2e x 1o -> 1o: S·v": ("2e", "1o", "1o", lambda S, v: torch.einsum("nij,nj->ni", S, v)),
    "2e x 2e -> 2e: S S'": ("2e", "2e", "2e", lambda S, T: S @ T),
    "2e x 2e -> 0e: S:S'": ("2e", "2e", "0e", lambda S, T: (S * T).sum((1, 2))),
    "2e x 1o -> 2o: S×v": ("2e", "1o", "2o", lambda S, v: torch.einsum("jkl,nik,nl->nij", EPS, S, v)),
    "3o x 1o -> 2e: T·v": ("3o", "1o", "2e", lambda T, v: torch.einsum("nijk,nk->nij", T, v)),
    "2e x 1o -> 3o: S⊗v": ("2e", "1o", "3o", lambda S, v: S[..., None] * v[:, None, None, :]),
    "3o x 3o -> 2e: T:T'": ("3o", "3o", "2e", lambda T, U: torch.einsum("nikl,njkl->nij", T, U)),
}


@pytest.mark.parametrize("name", list(ICTP))
def test_cartesian_product_is_ictps_contraction_up_to_one_constant(name):
    ir1, ir2, ir_out, formula = ICTP[name]
    tp = CartesianTensorProduct(ir1, ir2, ir_out).double()
    x1, x2 = random_ict(ir1, 6, 1, seed=7), random_ict(ir2, 6, 1, seed=8)
    l1, l2, l_out = (Irreps(ir)[0].ir.l for ir in (ir1, ir2, ir_out))
    out = tp(x1, x2)[..., 0]
    reference = detraced(formula(x1[..., 0].view((6,) + (3,) * l1), x2[..., 0].view((6,) + (3,) * l2)))
    reference = reference.reshape(6, 3**l_out)
    scale = float((out * reference).sum() / (reference * reference).sum())  # the one constant
    assert abs(scale) > 0.1, f"{name}: the product does not reach the contraction (scale {scale})"
    assert_close(out, scale * reference, rtol=1e-12, atol=1e-14, what=f"{name} (scale {scale:.6f})")


def test_the_orthonormal_normalisation_of_the_simplest_paths():
    a, b = random_float64(5, 3, 1, seed=9), random_float64(5, 3, 1, seed=10)
    dot = CartesianTensorProduct(1, 1, 0).double()(a, b)[:, 0, 0]
    assert_close(dot, (a * b).sum((1, 2)) / 3**0.5, rtol=1e-13, what="a·b/√3")
    outer = CartesianTensorProduct(1, 1, 2).double()(a, b)[..., 0].view(5, 3, 3)
    assert_close(outer, detraced(a[..., 0, None] * b[:, None, :, 0]), rtol=1e-13, what="the ICT part of a⊗b")


@pytest.mark.parametrize("group", ["O(3)", "SO(3)"])
def test_outputs_are_traceless_and_symmetric(group):
    tp = CartesianTensorProduct("1o+2e+3o", "2e+3o", "2e+3o", group=group).double()
    x1 = random_float64(4, tp.dim_in1, 2, seed=11)  # any tensors: projected onto their ICT parts
    x2 = random_float64(4, tp.dim_in2, 2, seed=12)
    out = tp(x1, x2)
    for rank, block in zip((2, 3), torch.split(out, (9, 27), dim=1)):
        T = block.permute(0, 2, 1).reshape((-1,) + (3,) * rank)
        assert float(T.abs().max()) > 1e-3
        for i in range(1, rank):
            assert_close(T.transpose(i, i + 1), T, atol=1e-14, what=f"symmetry of rank {rank} in indices {i},{i + 1}")
        trace = T.diagonal(dim1=1, dim2=2).sum(-1)
        assert_close(trace, torch.zeros_like(trace), atol=1e-14, what=f"trace of rank {rank}")


def _cartesian_equivariance(tp, R: np.ndarray, dtype, rtol: float, atol: float) -> None:
    Rt = torch.from_numpy(R)
    x1 = random_ict(tp.irreps_in1, 5, 3, seed=13).to(dtype)
    x2 = random_ict(tp.irreps_in2, 5, 3, seed=14).to(dtype)
    D1, D2, D_out = (cartesian_action(irreps, R).to(dtype) for irreps in (tp.irreps_in1, tp.irreps_in2, tp.irreps_out))
    kind = "rotation" if np.linalg.det(R) > 0 else "reflection"
    assert_close(tp(D1 @ x1, D2 @ x2), D_out @ tp(x1, x2), rtol=rtol, atol=atol, what=f"{dtype} {kind}")
    del Rt


@pytest.mark.parametrize("dtype, rtol, atol", [(torch.float64, 1e-10, 1e-12), (torch.float32, 1e-5, 1e-5)], ids=str)
def test_equivariance_of_the_cartesian_product(dtype, rtol, atol):
    o3 = CartesianTensorProduct(ICT3, "0e+1o+2e+1e", None, weights="path").to(dtype)
    for R in (random_rotation(1), random_orthogonal(2)):  # O(3): the pseudotensor outputs flip too
        _cartesian_equivariance(o3, R, dtype, rtol, atol)
    so3 = CartesianTensorProduct(ICT3, ICT3, ICT3, group="SO(3)").to(dtype)
    _cartesian_equivariance(so3, random_rotation(3), dtype, rtol, atol)
    # the odd paths break reflections under SO(3): one of them alone is not O(3)-equivariant
    odd = CartesianTensorProduct(1, 1, 1, group="SO(3)").double()
    with pytest.raises(AssertionError, match="reflection"):
        _cartesian_equivariance(odd, random_orthogonal(4), torch.float64, 1e-10, 1e-12)


def test_equivariance_of_the_compact_product():
    tp = CartesianTensorProduct(ICT3, ICT3, None, compact=True, weights="path").double()
    assert_module_equivariant(
        lambda a, b: tp(a.unsqueeze(-1), b.unsqueeze(-1)).squeeze(-1), [ICT3, ICT3], tp.irreps_out, batch=(4,)
    )


@pytest.mark.parametrize("weights", [None, "channel"])
@pytest.mark.parametrize("group", ["O(3)", "SO(3)"])
def test_square_is_the_product_with_itself(group, weights):
    tp = CartesianTensorProduct("0e+1o+2e", "0e+1o+2e", "0e+1o+2e+3o", group=group, weights=weights, channels=3)
    tp = tp.double()
    if weights:
        tp.weight.data = random_float64(*tp.weight_shape, seed=15)
    x = random_ict("0e+1o+2e", 4, 3, seed=16).requires_grad_()
    square, product = tp.square(x), tp(x, x)
    assert_close(square, product, rtol=1e-12, atol=1e-14, what="square(x) vs x ⊗ x")
    g_square, g_product = (torch.autograd.grad((y * y).sum(), x)[0] for y in (square, product))
    assert_close(g_square, g_product, rtol=1e-12, atol=1e-14, what="gradient of square(x)")


@pytest.mark.parametrize("compact", [True, False])
def test_gradients_of_first_and_second_order(compact):
    tp = CartesianTensorProduct("0e+1o+2e", "1o+2e", "0e+1o+2e+3o", weights="channel", channels=2, compact=compact)
    tp = tp.double()
    tp.weight.data = random_float64(*tp.weight_shape, seed=17)
    x1 = random_float64(2, tp.dim_in1, 2, seed=18).requires_grad_()
    x2 = random_float64(2, tp.dim_in2, 2, seed=19).requires_grad_()
    assert torch.autograd.gradcheck(tp, (x1, x2), fast_mode=True)
    assert torch.autograd.gradgradcheck(tp, (x1, x2), fast_mode=True)
    square = CartesianTensorProduct("1o+2e", "1o+2e", "0e+2e", compact=compact).double()
    x = random_float64(2, square.dim_in1, 2, seed=20).requires_grad_()
    assert torch.autograd.gradgradcheck(square.square, (x,), fast_mode=True)
    # the weights get their gradient (through the per-path outputs)
    (tp(x1, x2) ** 2).sum().backward()
    assert tp.weight.grad is not None and float(tp.weight.grad.abs().max()) > 0


def test_shapes_broadcasting_and_empty_input():
    tp = CartesianTensorProduct(2, 1, 1)
    assert (tp.dim_in1, tp.dim_in2, tp.dim_out) == (9, 3, 3)
    out = tp(torch.randn(2, 5, 9, 4), torch.randn(5, 3, 1))
    assert out.shape == (2, 5, 3, 4)
    assert tp(torch.randn(0, 9, 4), torch.randn(0, 3, 4)).shape == (0, 3, 4)
    x1, x2 = torch.randn(5, 9, 4), torch.randn(5, 3, 1)
    assert_close(tp(x1, x2), tp(x1, x2.expand(5, 3, 4)), rtol=1e-6, what="C = 1 broadcasts")


def test_ict_rows_are_orthonormal_traceless_symmetric():
    for rank in range(5):
        rows = ict_rows(rank)
        assert rows.shape == (2 * rank + 1, 3**rank)
        assert_close(rows @ rows.T, np.eye(2 * rank + 1), atol=1e-13, what=f"orthonormal rows, rank {rank}")
        if rank >= 2:
            T = rows.reshape((-1,) + (3,) * rank)
            assert_close(np.swapaxes(T, 1, 2), T, atol=1e-14, what=f"symmetric, rank {rank}")
            trace = np.trace(T, axis1=1, axis2=2)
            assert_close(trace, np.zeros_like(trace), atol=1e-14, what=f"traceless, rank {rank}")


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"irreps_in1": "2x1o"}, ValueError, "irreps_in1"),
        ({"irreps_in2": -1}, ValueError, "irreps_in2"),
        ({"irreps_in2": "x"}, ValueError, "irreps_in2"),
        ({"irreps_out": "1o"}, ValueError, "1o ⊗ 1e|no path"),
        ({"irreps_out": [True]}, ValueError, "irreps_out"),
        ({"group": "O3x"}, ValueError, "group"),
        ({"weights": "edge"}, ValueError, "weights"),
        ({"weights": "channel"}, ValueError, "channels"),
        ({"channels": 0}, ValueError, "channels"),
        ({"compact": "yes"}, ValueError, "compact"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, error, message):
    arguments = {"irreps_in1": 1, "irreps_in2": 1, "irreps_out": "1e", **kwargs}
    with pytest.raises(error, match=message):
        CartesianTensorProduct(**arguments)


def test_bad_inputs_name_themselves():
    tp = CartesianTensorProduct(2, 1, 1, weights="channel", channels=4)
    with pytest.raises(ValueError, match="x1 has shape"):
        tp(torch.randn(5, 5, 4), torch.randn(5, 3, 4))
    with pytest.raises(ValueError, match="x2 has 3 channels"):
        tp(torch.randn(5, 9, 4), torch.randn(5, 3, 3))
    with pytest.raises(TypeError, match="x2 must be a floating-point"):
        tp(torch.randn(5, 9, 4), torch.ones(5, 3, 4, dtype=torch.long))
    with pytest.raises(TypeError, match="different dtypes"):
        tp(torch.randn(5, 9, 4), torch.randn(5, 3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="square needs equal input irreps"):
        tp.square(torch.randn(5, 9, 4))
    with pytest.raises(ValueError, match="rank must be a non-negative integer"):
        ict_rows(-1)


@pytest.mark.parametrize("name", ["equitools.nn.cartesian_product", "equitools.nn.tensornet_ict"])
def test_docstring_examples_run(name):
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_the_sign_classes_skip_the_uncoupled_pairs():
    """The coupling of ranks 0…3 under O(3) is evaluated on 8 classes of components, with 502
    multiply-adds per channel instead of the dense 16³ (the speed of the higher-rank TensorNet)."""
    tp = CartesianTensorProduct(ICT3, ICT3, ICT3, compact=True)
    first, _, blocks, _, _ = tp._coupling._plan((0, 1, 2), torch.float64, torch.device("cpu"))
    assert len(blocks) == 8 and sum(b.numel() for b in blocks) == 502 and len(first) == 234
    assert len(np.unique(CartesianTensorProduct(ICT3, ICT3, ICT3, group="SO(3)")._coupling.classes[0])) == 4
    assert module._CHUNK >= len(first)
