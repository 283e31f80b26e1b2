"""FullyConnectedCGProduct on channels-last features: equal to the explicit sum over paths and
channel pairs, grouped weights, O(3) and SO(3) paths, equivariance, errors."""

import numpy as np
import pytest
import torch
from helpers import one_torch_thread, random_float64  # noqa: F401 (fixture)

from equitools.so3 import clebsch_gordan
from equitools.testing import assert_close, assert_module_equivariant
from equitools.tp import CGTensorProduct, FullyConnectedCGProduct

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _reference(module, x1, x2, weight):
    """out[..., l3, w] by the formula, one (u, v, path) at a time; x1 (..., dim1, U), x2 (..., dim2, V)."""
    U, V, W = module.channels
    fan_in = np.bincount([p.i_out for p in module.paths])
    out = torch.zeros(x1.shape[:-2] + (module.irreps_out.dim, W), dtype=torch.float64)
    s1, s2, so = module.irreps_in1.slices(), module.irreps_in2.slices(), module.irreps_out.slices()
    for k, p in enumerate(module.paths):
        C = torch.tensor(clebsch_gordan(p.l1, p.l2, p.l3)) / fan_in[p.i_out] ** 0.5
        for u in range(U):
            for v in range(V):
                pair = torch.einsum("...i,...j,ijk->...k", x1[..., s1[p.i_in1], u], x2[..., s2[p.i_in2], v], C)
                out[..., so[p.i_out], :] += pair[..., :, None] * weight[..., k, u, v, None, :]
    return out


def test_equals_the_formula_with_shared_and_grouped_weights():
    tp = FullyConnectedCGProduct("1o+2e", "0e+1o+2e", 3, 2, 4).double()
    reached = {ir3 for _, ir1 in tp.irreps_in1 for _, ir2 in tp.irreps_in2 for ir3 in ir1 * ir2}
    assert [ir for _, ir in tp.irreps_out] == sorted(reached) and all(mul == 1 for mul, _ in tp.irreps_out)
    x1, x2 = random_float64(5, 8, 3), random_float64(5, 9, 2, seed=1)  # (batch, irreps.dim, channels)
    assert_close(tp(x1, x2), _reference(tp, x1, x2, tp.weight), rtol=1e-12, what="shared weights")
    grouped = FullyConnectedCGProduct(
        "1o+2e", "1o+2e", 2, 2, 2, paths=[("1o", "1o", "2e"), ("2e", "1o", "1o")], weight_groups=(4,)
    ).double()
    assert grouped.weight.shape == (4, 2, 2, 2, 2)
    x1, x2 = random_float64(5, 8, 4, 2, seed=2), random_float64(5, 8, 4, 2, seed=3)  # (batch, dim, G, U)
    expected = torch.stack([_reference(grouped, x1[:, :, g], x2[:, :, g], grouped.weight[g]) for g in range(4)], dim=2)
    out = grouped(x1, x2)
    assert_close(out, expected, rtol=1e-12, what="grouped weights")
    assert out.is_contiguous()  # so (batch, dim, G, W) views as (batch, dim, G·W)


def test_one_path_equals_the_outer_cg_product_contracted_with_its_weights():
    U, V, W = 3, 2, 4
    for l1, l2, l3 in [(1, 1, 2), (2, 1, 1), (2, 2, 2)]:
        irreps = {1: "1o", 2: "2e"}
        tp = FullyConnectedCGProduct("1o+2e", "1o+2e", U, V, W, paths=[(l1, l2, l3)]).double()
        outer = CGTensorProduct(f"{U}x{irreps[l1]}", f"{V}x{irreps[l2]}", paths=[(l1, l2, l3)], channel_mode="outer")
        x1, x2 = random_float64(6, 8, U), random_float64(6, 8, V, seed=l1 + l2)
        part = lambda x, l: x[:, :3] if l == 1 else x[:, 3:]  # noqa: E731
        # the e3nn layout of "Ux1o" is multiplicity-major: (batch, U, 3) flattened
        pairs = outer(part(x1, l1).transpose(1, 2).reshape(6, -1), part(x2, l2).transpose(1, 2).reshape(6, -1))
        pairs = pairs.reshape(6, U, V, 2 * l3 + 1)
        assert_close(
            tp(x1, x2), torch.einsum("nuvk,uvw->nkw", pairs, tp.weight[0]), rtol=1e-12, what=f"path {l1}{l2}{l3}"
        )


@pytest.mark.parametrize("group", ["O(3)", "SO(3)"])
def test_equivariant_under_rotations_and_reflections(group):
    """O(3): equivariant under rotations and reflections; SO(3) (parity-odd paths in): rotations."""
    U, V, W = 2, 3, 2
    tp = FullyConnectedCGProduct("0e+1o+2e", "1o+2e", U, V, W, group=group).double()
    in1, in2 = "+".join(["0e+1o+2e"] * U), "+".join(["1o+2e"] * V)
    out = "+".join([str(tp.irreps_out)] * W)
    # channels-last (4, dim, C) read as multiplicity-major flat features (4, C·dim)
    flat = lambda x, dim, C: x.view(4, C, dim).transpose(1, 2)  # noqa: E731
    assert_module_equivariant(
        lambda a, b: tp(flat(a, 9, U), flat(b, 8, V)).transpose(1, 2).reshape(4, -1),
        [in1, in2],
        out,
        batch=(4,),
        rtol=1e-11,
        reflection=group == "O(3)",
    )


def test_so3_adds_the_parity_odd_paths():
    """SO(3) lets 1o ⊗ 1o → 1o (the cross product) through; O(3) refuses it; labels are (-1)^l."""
    so3 = FullyConnectedCGProduct(
        "1o+2e", "1o+2e", 1, 1, 1, paths=[(1, 1, 1)], group="SO(3)", path_normalization=False
    ).double()
    assert str(so3.irreps_out) == "1x1o" and len(FullyConnectedCGProduct("1o", "1o", 1, 1, 1, group="SO(3)").paths) == 3
    with torch.no_grad():
        so3.weight.fill_(1.0)
    a, b = random_float64(3), random_float64(3, seed=1)
    x1, x2 = (
        torch.cat([a, torch.zeros(5, dtype=torch.float64)])[:, None],
        torch.cat([b, torch.zeros(5, dtype=torch.float64)])[:, None],
    )
    assert_close(so3(x1, x2)[:, 0], torch.linalg.cross(a, b) / -(2**0.5), rtol=1e-13)
    assert (
        str(FullyConnectedCGProduct("1o", "1o", 1, 1, 1, paths=[(1, 1, 1)]).irreps_out) == "1x1e"
    )  # O(3): a pseudovector
    with pytest.raises(ValueError, match="under O\\(3\\)"):
        FullyConnectedCGProduct("1o", "1o", 1, 1, 1, paths=[("1o", "1o", "1o")])


def test_external_weights_and_errors():
    tp = FullyConnectedCGProduct("1o", "1o", 2, 2, 1, internal_weights=False)
    x = torch.randn(3, 3, 2)
    with pytest.raises(ValueError, match=r"weight of shape \(3, 2, 2, 1\)"):
        tp(x, x)
    w = torch.randn(3, 2, 2, 1)
    assert tp(x, x, w).shape == (3, 9, 1)
    with pytest.raises(ValueError, match=r"x2 has shape \(3, 5, 2\); expected \(\.\.\., 3, 2\)"):
        tp(x, torch.randn(3, 5, 2), w)
    with pytest.raises(ValueError, match="different batch shapes"):
        tp(x, torch.randn(4, 3, 2), w)
    grouped = FullyConnectedCGProduct("1o", "1o", 2, 2, 1, weight_groups=(4,))
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 3, 4, 2\)"):
        grouped(torch.randn(4, 3, 3, 2), torch.randn(4, 3, 3, 2))
    assert grouped(torch.randn(0, 3, 4, 2), torch.randn(0, 3, 4, 2)).shape == (0, 9, 4, 1)
    with pytest.raises(ValueError, match="multiplicity 1"):
        FullyConnectedCGProduct("2x1o", "1o", 2, 2, 2)
    with pytest.raises(ValueError, match="not allowed"):
        FullyConnectedCGProduct("1o", "1o", 2, 2, 2, paths=[("1o", "1o", "1o")])
    with pytest.raises(ValueError, match="channels_out"):
        FullyConnectedCGProduct("1o", "1o", 2, 2, 0)
