"""CGTensorProduct: agreement with e3nn, channels, paths, weights, symmetry, gradients, errors."""

import numpy as np
import pytest
import torch
from e3nn import o3
from helpers import one_torch_thread  # noqa: F401 (fixture)
from helpers import random_float64 as _random

from equitools.so3 import clebsch_gordan
from equitools.testing import assert_close, assert_module_equivariant
from equitools.tp import CGTensorProduct

F64 = dict(dtype=torch.float64)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _sign(l1, l2, l3):
    """Sign between the library's CG and e3nn's wigner_3j * sqrt(2 l3 + 1)."""
    w = o3.wigner_3j(l1, l2, l3, dtype=torch.float64).numpy()
    return float(np.sign(np.sum(clebsch_gordan(l1, l2, l3) * w)))


@pytest.mark.parametrize("irreps1,irreps2", [("0e+1o+2e+3o", "0e+1o+2e+3o"), ("2x0e+1x1o+3x2e", "1x1e+2x1o+1x3o")])
def test_outer_mode_is_e3nn_full_tensor_product_up_to_a_sign_per_path(irreps1, irreps2):
    ours = CGTensorProduct(irreps1, irreps2, channel_mode="outer")
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # e3nn bakes its wigner_3j into the module in this dtype
    try:
        ref = o3.FullTensorProduct(irreps1, irreps2)
    finally:
        torch.set_default_dtype(default)
    assert ours.irreps_out == ref.irreps_out
    x, y = _random(4, ours.irreps_in1.dim), _random(4, ours.irreps_in2.dim, seed=1)
    a, b = ours(x, y), ref(x, y)
    assert len(ours.paths) == len(ref.instructions)
    for ins in ref.instructions:
        l1, l2, l3 = (
            irreps[i].ir.l
            for irreps, i in ((ref.irreps_in1, ins.i_in1), (ref.irreps_in2, ins.i_in2), (ref.irreps_out, ins.i_out))
        )
        block = ref.irreps_out.slices()[ins.i_out]
        # e3nn: "component" normalisation, w3j * sqrt(2 l3 + 1) = ± our orthonormal CG
        assert_close(a[:, block], _sign(l1, l2, l3) * b[:, block], rtol=0, atol=1e-12, what=str(ins))


def test_elementwise_channels_equal_per_channel_products():
    C = 3
    ours = CGTensorProduct(f"{C}x0e+{C}x1o+{C}x2e", "1x1o+1x2e")  # x2 broadcast over channels
    single = CGTensorProduct("0e+1o+2e", "1o+2e")
    assert ours.irreps_out == o3.Irreps([(C, ir) for _, ir in single.irreps_out])
    x, y = _random(5, ours.irreps_in1.dim), _random(5, 8, seed=1)
    out = ours(x, y)
    x_channels = torch.stack(
        [
            torch.cat(
                [
                    x[:, s][:, u * ir.dim : (u + 1) * ir.dim]
                    for s, (_, ir) in zip(ours.irreps_in1.slices(), ours.irreps_in1)
                ],
                -1,
            )
            for u in range(C)
        ],
        -1,
    )
    expected = torch.stack([single(x_channels[..., u], y) for u in range(C)], -1)  # (5, dim, C), channel by channel
    for s_out, s_one, (_, ir) in zip(ours.irreps_out.slices(), single.irreps_out.slices(), single.irreps_out):
        assert_close(out[:, s_out].reshape(5, C, ir.dim), expected[:, s_one].transpose(1, 2), rtol=0, atol=1e-13)
    # the channels-last layout computes the same, x2 broadcast over channels (C = 1)
    axis = CGTensorProduct("0e+1o+2e", "1o+2e", channels=C)
    assert_close(axis(x_channels, y.unsqueeze(-1)), expected, rtol=0, atol=1e-13)
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 9, 3\) for 1x0e\+1x1o\+1x2e with channels=3"):
        axis(x_channels.transpose(1, 2), y.unsqueeze(-1))  # (..., C, dim) is not the layout


def test_paths_restrict_the_product():
    irreps = "0e+1o+2e"
    full = CGTensorProduct(irreps, irreps)
    some = CGTensorProduct(irreps, irreps, paths=[(1, 1, 1), (2, 1, 2), ("1o", "2e", "3o")])
    assert [(p.l1, p.l2, p.l3) for p in some.paths] == [(1, 1, 1), (2, 1, 2), (1, 2, 3)]
    assert some.irreps_out == o3.Irreps("1e+2o+3o")
    x, y = _random(3, 9), _random(3, 9, seed=1)
    out_full, out_some = full(x, y), some(x, y)
    for p_some in some.paths:
        (p_full,) = [p for p in full.paths if (p.i_in1, p.i_in2, p.l3) == (p_some.i_in1, p_some.i_in2, p_some.l3)]
        assert_close(
            out_some[:, some.irreps_out.slices()[p_some.i_out]],
            out_full[:, full.irreps_out.slices()[p_full.i_out]],
            rtol=0,
            atol=1e-14,
        )
    # only the nonzero coefficients of these paths are stored
    nonzero = sum(np.count_nonzero(clebsch_gordan(p.l1, p.l2, p.l3)) for p in some.paths)
    assert some.coupling_value.numel() == nonzero
    assert nonzero < 0.4 * sum(np.size(clebsch_gordan(p.l1, p.l2, p.l3)) for p in some.paths)


def test_instructions_and_path_normalisation():
    tp = CGTensorProduct("1o+2o", "1o", "1e+2e", instructions=[(0, 0, 0), (1, 0, 0), (1, 0, 1)])
    x, y = _random(2, 8), _random(2, 3, seed=1)
    c111, c211, c212 = (torch.tensor(clebsch_gordan(*t)) for t in ((1, 1, 1), (2, 1, 1), (2, 1, 2)))
    expected_1 = (
        torch.einsum("na,nb,abc->nc", x[:, :3], y, c111) + torch.einsum("na,nb,abc->nc", x[:, 3:], y, c211)
    ) / np.sqrt(2)
    expected_2 = torch.einsum("na,nb,abc->nc", x[:, 3:], y, c212)
    assert_close(tp(x, y), torch.cat([expected_1, expected_2], -1), rtol=0, atol=1e-14)
    raw = CGTensorProduct(
        "1o+2o", "1o", "1e+2e", instructions=[(0, 0, 0), (1, 0, 0), (1, 0, 1)], path_normalization=False
    )
    assert_close(raw(x, y)[:, :3], expected_1 * np.sqrt(2), rtol=0, atol=1e-14)


def test_path_and_channel_weights_internal_and_external():
    C = 2
    irreps1, irreps2, irreps_out = f"{C}x0e+{C}x1o", f"{C}x1o", f"{C}x1o+{C}x1e"
    plain = CGTensorProduct(irreps1, irreps2, irreps_out, path_normalization=False)
    n = len(plain.paths)
    x, y = _random(4, 8), _random(4, 6, seed=1)

    def by_path(module, x, y, weight_of):
        """Sum over paths of the product restricted to one path, scaled by weight_of(path index)."""
        out = 0
        for k, p in enumerate(module.paths):
            single = CGTensorProduct(irreps1, irreps2, irreps_out, instructions=[(p.i_in1, p.i_in2, p.i_out)])
            out = out + single(x, y) * weight_of(k)
        return out

    external = CGTensorProduct(
        irreps1, irreps2, irreps_out, weights="path", internal_weights=False, path_normalization=False
    )
    w = _random(4, n, seed=2)  # one weight per sample and path
    assert_close(external(x, y, weight=w), by_path(plain, x, y, lambda k: w[:, k : k + 1]), rtol=0, atol=1e-13)

    channel = CGTensorProduct(irreps1, irreps2, irreps_out, weights="channel", path_normalization=False).double()
    assert tuple(channel.weight.shape) == (C, n) == channel.weight_shape
    with torch.no_grad():
        channel.weight.copy_(_random(C, n, seed=3))
    # channel u of every output block is scaled by weight[u, path] (e3nn layout: blocks of C x 3)
    factor = lambda k: torch.cat([channel.weight[:, k].repeat_interleave(ir.dim) for _, ir in channel.irreps_out])  # noqa: E731
    assert_close(channel(x, y), by_path(plain, x, y, factor), rtol=0, atol=1e-13)


@pytest.mark.parametrize("mode", ["elementwise", "outer"])
def test_equivariant_under_rotations_and_reflections(mode):
    irreps1, irreps2 = "2x0e+2x1o+2x2e+2x1e", ("2x1o+2x2o" if mode == "elementwise" else "1x1o+2x2o")
    tp = CGTensorProduct(irreps1, irreps2, channel_mode=mode)
    assert_module_equivariant(tp, [irreps1, irreps2], tp.irreps_out)


def test_gradcheck_with_weights():
    tp = CGTensorProduct("0e+1o+2e", "1o+2e", "1o+1e+2e", weights="path").double()
    x, y = _random(2, 9).requires_grad_(), _random(2, 8, seed=1).requires_grad_()
    assert torch.autograd.gradcheck(tp, (x, y))
    assert torch.autograd.gradgradcheck(tp, (x, y))
    w = _random(2, len(tp.paths), seed=2).requires_grad_()
    external = CGTensorProduct("0e+1o", "1o", "1o+1e", weights="path", internal_weights=False).double()
    assert torch.autograd.gradgradcheck(
        lambda a, b, c: external(a, b, weight=c), (x[:, :4], y[:, :3], w[:, : len(external.paths)])
    )


def test_sparse_and_dense_coupling_agree_in_float32_and_float64():
    irreps = "0e+1o+2e+3o"
    sparse, dense = CGTensorProduct(irreps, irreps), CGTensorProduct(irreps, irreps, coupling="dense")
    x, y = _random(3, 16), _random(3, 16, seed=1)
    assert_close(sparse(x, y), dense(x, y), rtol=0, atol=1e-13)
    out32 = sparse(x.float(), y.float())
    assert out32.dtype == torch.float32
    assert_close(out32, sparse(x, y), rtol=1e-6, atol=1e-6)
    batched = sparse(_random(2, 5, 16), _random(5, 16, seed=1))  # leading dims broadcast
    assert batched.shape == (2, 5, sparse.irreps_out.dim)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(irreps_in1="1x", irreps_in2="1o"), "irreps_in1: cannot read"),
        (dict(irreps_in1="2x0e+3x1o", irreps_in2="1o"), "mixes multiplicities"),
        (dict(irreps_in1="2x0e", irreps_in2="3x1o"), "equal multiplicities"),
        (dict(irreps_in1="1o", irreps_in2="1o", paths=[(1, 1, 3)]), r"paths \[\(1, 1, 3\)\] are not allowed"),
        (dict(irreps_in1="1o", irreps_in2="1o", irreps_out="0o"), "no allowed path"),
        (dict(irreps_in1="1o", irreps_in2="1o", irreps_out="2x0e"), "output multiplicity 2, expected 1"),
        (dict(irreps_in1="1o", irreps_in2="1o", irreps_out="0e", instructions=[(0, 1, 0)]), "no block 1 in irreps_in2"),
        (dict(irreps_in1="1o", irreps_in2="1o", weights="edge"), "weights must be"),
        (dict(irreps_in1="1o", irreps_in2="1o", channel_mode="outer", weights="channel"), "outer"),
    ],
)
def test_bad_construction_gives_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CGTensorProduct(**kwargs)


def test_bad_calls_give_clear_errors():
    tp = CGTensorProduct("0e+1o", "1o", weights="path", internal_weights=False)
    x, y = _random(2, 4), _random(2, 3)
    with pytest.raises(ValueError, match=r"x1 has shape \(2, 3\); expected \(\.\.\., 4\)"):
        tp(y, y, weight=torch.ones(len(tp.paths), **F64))
    with pytest.raises(ValueError, match="is required"):
        tp(x, y)
    with pytest.raises(ValueError, match="weight has shape"):
        tp(x, y, weight=torch.ones(7, **F64))
    with pytest.raises(ValueError, match="internal_weights=True"):
        CGTensorProduct("0e", "1o", weights="path")(x[:, :1], y, weight=torch.ones(1))


def test_so3_group_ignores_parity_on_channels_last_features():
    """SO(3): 1o ⊗ 2e → 1o, 2e and 1o ⊗ 1o → 1o (O(3) forbids them) on (..., dim, C) features;
    rotation-equivariant, and not reflection-equivariant (the paths really are parity-odd)."""
    with pytest.raises(ValueError, match="no allowed path"):
        CGTensorProduct("1o", "1o", "1o")
    cross = CGTensorProduct("1o", "1o", "1o", group="SO(3)")
    a, b = _random(3), _random(3, seed=1)
    assert_close(cross(a, b), torch.linalg.cross(a, b) / -(2**0.5), rtol=0, atol=1e-14)
    C = 2
    tp = CGTensorProduct("1o+2e", "1o+2e", "1o+2e", group="SO(3)", channels=C)
    assert [(p.l1, p.l2, p.l3) for p in tp.paths] == [
        (1, 1, 1),
        (1, 2, 1),
        (2, 1, 1),
        (2, 2, 1),
        (1, 1, 2),
        (1, 2, 2),
        (2, 1, 2),
        (2, 2, 2),
    ]
    last = lambda x: x.view(3, C, 8).transpose(1, 2)  # noqa: E731  (3, C·dim) flat → (3, dim, C)
    fn = lambda x, y: tp(last(x), last(y)).transpose(1, 2).reshape(3, -1)  # noqa: E731
    irreps = "+".join(["1o+2e"] * C)
    assert_module_equivariant(fn, [irreps, irreps], irreps, reflection=False)
    with pytest.raises(AssertionError, match="reflection"):
        assert_module_equivariant(fn, [irreps, irreps], irreps)


def test_chunked_coupling_gives_the_same_values_and_gradients_of_every_order(monkeypatch):
    """The outer product is formed a few channels at a time (``_CHUNK``): values, gradients and
    second derivatives (force training) do not depend on the chunks."""
    from equitools.tp import cg

    torch.manual_seed(3)
    tp = CGTensorProduct("0e+1o+2e", "1o+2e", channels=7, weights="channel").double()
    x1 = torch.randn(5, tp.irreps_in1.dim, 7, dtype=torch.float64, requires_grad=True)
    x2 = torch.randn(5, tp.irreps_in2.dim, 7, dtype=torch.float64, requires_grad=True)

    def values_and_derivatives():
        y = tp(x1, x2)
        g1, g2 = torch.autograd.grad((y**2).sum(), (x1, x2), create_graph=True)
        (h1,) = torch.autograd.grad((g1 * g2.sum()).sum() + (g2**2).sum(), x1)
        return y, g1, g2, h1

    whole = values_and_derivatives()
    rows = len(tp.used1) * len(tp.used2)
    monkeypatch.setattr(cg, "_CHUNK", 3 * rows)  # 3 of the 35 columns (5 rows x 7 channels) a chunk
    chunked = values_and_derivatives()
    for got, want in zip(chunked, whole):
        assert_close(got, want, rtol=1e-12, atol=1e-13, what="chunked vs whole")
    small = (x1[:2].detach().requires_grad_(), x2[:2].detach().requires_grad_())
    assert torch.autograd.gradgradcheck(lambda a, b: tp(a, b), small)
