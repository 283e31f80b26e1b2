"""FullyConnectedCGProduct: equal to the explicit sum over paths and channel pairs, grouped
weights, equivariance, memory-free of the outer product, errors."""

import numpy as np
import pytest
import torch

from equitools.so3 import clebsch_gordan
from equitools.testing import assert_close, assert_module_equivariant
from equitools.tp import CGTensorProduct, FullyConnectedCGProduct

from helpers import one_torch_thread, random_float64  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _reference(module, x1, x2, weight):
    """out[..., w, l3] by the formula, one (u, v, path) at a time."""
    U, V, W = module.channels
    fan_in = np.bincount([p.i_out for p in module.paths])
    out = torch.zeros(x1.shape[:-2] + (W, module.irreps_out.dim), dtype=torch.float64)
    s1, s2, so = module.irreps_in1.slices(), module.irreps_in2.slices(), module.irreps_out.slices()
    for k, p in enumerate(module.paths):
        C = torch.tensor(clebsch_gordan(p.l1, p.l2, p.l3)) / fan_in[p.i_out] ** 0.5
        for u in range(U):
            for v in range(V):
                pair = torch.einsum("...i,...j,ijk->...k", x1[..., u, s1[p.i_in1]], x2[..., v, s2[p.i_in2]], C)
                out[..., so[p.i_out]] += weight[..., k, u, v, :, None] * pair[..., None, :]
    return out


def test_equals_the_formula_with_shared_and_grouped_weights():
    tp = FullyConnectedCGProduct("1o+2e", "0e+1o+2e", 3, 2, 4).double()
    reached = {ir3 for _, ir1 in tp.irreps_in1 for _, ir2 in tp.irreps_in2 for ir3 in ir1 * ir2}
    assert [ir for _, ir in tp.irreps_out] == sorted(reached) and all(mul == 1 for mul, _ in tp.irreps_out)
    x1, x2 = random_float64(5, 3, 8), random_float64(5, 2, 9, seed=1)
    assert_close(tp(x1, x2), _reference(tp, x1, x2, tp.weight), rtol=1e-12, what="shared weights")
    grouped = FullyConnectedCGProduct("1o+2e", "1o+2e", 2, 2, 2, paths=[("1o", "1o", "2e"), ("2e", "1o", "1o")],
                                      weight_groups=(4,)).double()
    assert grouped.weight.shape == (4, 2, 2, 2, 2)
    x1, x2 = random_float64(5, 4, 2, 8, seed=2), random_float64(5, 4, 2, 8, seed=3)
    expected = torch.stack([_reference(grouped, x1[:, g], x2[:, g], grouped.weight[g]) for g in range(4)], dim=1)
    assert_close(grouped(x1, x2), expected, rtol=1e-12, what="grouped weights")


def test_one_path_equals_the_outer_cg_product_contracted_with_its_weights():
    U, V, W = 3, 2, 4
    for l1, l2, l3 in [(1, 1, 2), (2, 1, 1), (2, 2, 2)]:
        irreps = {1: "1o", 2: "2e"}
        tp = FullyConnectedCGProduct("1o+2e", "1o+2e", U, V, W, paths=[(l1, l2, l3)]).double()
        outer = CGTensorProduct(f"{U}x{irreps[l1]}", f"{V}x{irreps[l2]}", paths=[(l1, l2, l3)], channel_mode="outer")
        x1, x2 = random_float64(6, U, 8), random_float64(6, V, 8, seed=l1 + l2)
        part = lambda x, l, n: x[..., :3] if l == 1 else x[..., 3:]
        pairs = outer(part(x1, l1, U).reshape(6, -1), part(x2, l2, V).reshape(6, -1)).reshape(6, U, V, 2 * l3 + 1)
        assert_close(tp(x1, x2), torch.einsum("nuvk,uvw->nwk", pairs, tp.weight[0]), rtol=1e-12, what=f"path {l1}{l2}{l3}")


def test_equivariant_under_rotations_and_reflections():
    U, V, W = 2, 3, 2
    tp = FullyConnectedCGProduct("0e+1o+2e", "1o+2e", U, V, W).double()
    in1, in2 = "+".join(["0e+1o+2e"] * U), "+".join(["1o+2e"] * V)
    out = "+".join([str(tp.irreps_out)] * W)
    assert_module_equivariant(lambda a, b: tp(a.view(4, U, 9), b.view(4, V, 8)).reshape(4, -1),
                              [in1, in2], out, batch=(4,), rtol=1e-11)


def test_external_weights_and_errors():
    tp = FullyConnectedCGProduct("1o", "1o", 2, 2, 1, internal_weights=False)
    x = torch.randn(3, 2, 3)
    with pytest.raises(ValueError, match=r"weight of shape \(3, 2, 2, 1\)"):
        tp(x, x)
    w = torch.randn(3, 2, 2, 1)
    assert tp(x, x, w).shape == (3, 1, 9)
    with pytest.raises(ValueError, match=r"x2 has shape \(3, 2, 5\)"):
        tp(x, torch.randn(3, 2, 5), w)
    with pytest.raises(ValueError, match="different batch shapes"):
        tp(x, torch.randn(4, 2, 3), w)
    grouped = FullyConnectedCGProduct("1o", "1o", 2, 2, 1, weight_groups=(4,))
    with pytest.raises(ValueError, match=r"must end with the weight groups \(4,\)"):
        grouped(torch.randn(4, 3, 2, 3), torch.randn(4, 3, 2, 3))
    assert grouped(torch.randn(0, 4, 2, 3), torch.randn(0, 4, 2, 3)).shape == (0, 4, 1, 9)
    with pytest.raises(ValueError, match="multiplicity 1"):
        FullyConnectedCGProduct("2x1o", "1o", 2, 2, 2)
    with pytest.raises(ValueError, match="not allowed"):
        FullyConnectedCGProduct("1o", "1o", 2, 2, 2, paths=[("1o", "1o", "1o")])
    with pytest.raises(ValueError, match="channels_out"):
        FullyConnectedCGProduct("1o", "1o", 2, 2, 0)
