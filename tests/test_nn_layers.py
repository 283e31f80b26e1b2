"""The interaction layers' parts against their definitions: TensorNet's compact I/A/S algebra
against full 3×3 matrices, eSCN's edge frames and SO(2) maps, FreeCG's group CG transform."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import float64

from equitools import so3
from equitools.ict import decompose
from equitools.nn import escn, freecg
from equitools.nn.edges import build_edges, edge_block_budget, edge_blocks
from equitools.nn.escn import EdgeEmbedding, EdgeRotation, SO2Convolution, edge_frames
from equitools.nn.freecg import FreeCGLayer, GroupCGTransform, _edge_harmonics
from equitools.nn.radial import GaussianBasis
from equitools.nn.tensornet import CompactTensors, TensorInteraction, vector_to_skew
from equitools.testing import assert_close, random_orthogonal, random_rotation


def decompose_tensor(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """I, A, S parts of 3×3 tensors ``(..., 3, 3)`` (full matrices), from the ICT core."""
    parts = decompose(X, rank=2)
    return parts[(1, 0)], parts[(1, 1)], parts[(1, 2)]


def _only_parts(c: torch.Tensor) -> list[torch.Tensor]:
    """Compact tensors ``(..., 9, ...)`` → three copies holding only the I, A or S coefficients."""
    out = []
    for sl in (slice(0, 1), slice(1, 4), slice(4, 9)):
        only = torch.zeros_like(c)
        only[:, sl] = c[:, sl]
        out.append(only)
    return out


def test_compact_tensors_are_the_iAS_decomposition():
    ops = float64(CompactTensors)
    torch.manual_seed(0)
    X = torch.randn(4, 3, 3, 6, dtype=torch.float64)
    c = ops.compact(X)
    assert_close(ops.full(c), X, rtol=1e-14, what="full(compact(X))")
    I, A, S = decompose_tensor(X.permute(0, 3, 1, 2))
    norms = ops.part_norms2(c)
    for k, (part, only) in enumerate(zip((I, A, S), _only_parts(c))):
        assert_close(norms[:, k], (part**2).sum((-1, -2)), rtol=1e-13, what=f"norm of part {k}")
        assert_close(ops.full(only).permute(0, 3, 1, 2), part, rtol=1e-13, what=f"part {k}")
    r = torch.nn.functional.normalize(torch.randn(5, 3, dtype=torch.float64), dim=-1)
    I0, skew, sym = (ops.full(p.unsqueeze(-1))[..., 0] for p in _only_parts(ops.edge_tensors(r)))
    assert_close(I0, torch.eye(3, dtype=torch.float64).expand(5, 3, 3), rtol=1e-14, what="I0 = 1")
    assert_close(skew, vector_to_skew(r), atol=1e-15, what="A(r) = [r]_x")
    assert_close(
        sym, r[:, :, None] * r[:, None, :] - torch.eye(3, dtype=torch.float64) / 3, atol=1e-15, what="S(r) = rr^T - 1/3"
    )


@pytest.mark.parametrize("group", ["O(3)", "SO(3)"])
def test_tensornet_interaction_matches_full_matrix_reference(group):
    """The compact layer equals the paper's formulas written with full 3×3 matrices."""
    torch.manual_seed(1)
    C = 4
    layer = float64(lambda: TensorInteraction(C, 6, "silu", group))
    pos = torch.randn(5, 3, dtype=torch.float64)
    graph = build_edges(pos, 10.0)
    r = graph.length.index_select(0, graph.pair_edge)
    rbf = torch.rand(r.shape[0], 6, dtype=torch.float64)
    cut = torch.rand(r.shape[0], dtype=torch.float64)
    Xf = torch.randn(5, C, 3, 3, dtype=torch.float64)
    ops = layer.ops
    out = ops.full(layer(ops.compact(Xf.permute(0, 2, 3, 1)), graph, rbf, cut)).permute(0, 3, 1, 2)

    def lin(linear, T):  # channel mixing of (n, C, 3, 3)
        return torch.einsum("ncij,dc->ndij", T, linear.weight)

    def norm(T):
        return (T**2).sum((-1, -2))[..., None, None]

    f = (layer.linears_scalar(rbf) * cut[:, None]).view(-1, 3, C)[graph.pair]
    X = Xf / (norm(Xf) + 1)
    I, A, S = decompose_tensor(X)
    YI, YA, YS = lin(layer.linears_in.linear_I, I), lin(layer.linears_in.linear_A, A), lin(layer.linears_in.linear_S, S)
    Y = YI + YA + YS
    src, dst = graph.edge_index
    msg = f[:, 0, :, None, None] * YI[src] + f[:, 1, :, None, None] * YA[src] + f[:, 2, :, None, None] * YS[src]
    M = torch.zeros_like(X).index_add(0, dst, msg)
    P = M @ Y + Y @ M if group == "O(3)" else 2 * Y @ M
    I, A, S = decompose_tensor(P)
    n = norm(I + A + S) + 1
    dX = (
        lin(layer.linears_out.linear_I, I / n)
        + lin(layer.linears_out.linear_A, A / n)
        + lin(layer.linears_out.linear_S, S / n)
    )
    expected = X + dX + dX @ dX
    assert_close(out, expected, rtol=1e-12, what=f"TensorNet interaction {group}")


def test_edge_frames_align_edges_with_the_polar_axis():
    vecs = torch.tensor(
        [[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [0, -2, 0], [1e-9, 1, 0], [1, 1, 1], [-3, 0.5, 2]], dtype=torch.float64
    )
    vecs = torch.cat([vecs, torch.as_tensor(np.random.default_rng(0).normal(size=(20, 3)))])
    R = edge_frames(vecs)
    r = vecs / vecs.norm(dim=-1, keepdim=True)
    assert_close(
        torch.einsum("eij,ej->ei", R, r), torch.tensor([0.0, 1.0, 0.0]).expand_as(r), atol=1e-14, what="R r = y"
    )
    assert_close(R @ R.transpose(1, 2), torch.eye(3).expand_as(R), atol=1e-14, what="R orthogonal")
    assert_close(torch.linalg.det(R), torch.ones(len(R)), atol=1e-14, what="det R = 1")


def test_so2_convolution_commutes_with_rotations_about_the_edge_axis():
    torch.manual_seed(2)
    lmax, mmax = 3, 2
    conv = float64(lambda: SO2Convolution(lmax, mmax, 3, 4, 5, extra_m0=2))
    rotation = EdgeRotation(lmax, mmax)
    x = torch.randn(6, (lmax + 1) ** 2, 3, dtype=torch.float64)
    edge = torch.randn(6, 5, dtype=torch.float64)
    frames = edge_frames(torch.randn(6, 3, dtype=torch.float64))
    D = rotation.wigner(frames)
    angle = 0.7
    c, s = np.cos(angle), np.sin(angle)
    Ry = torch.tensor([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=torch.float64).expand(6, 3, 3)
    D_rolled = rotation.wigner(Ry @ frames)  # the same edge, another choice of its frame
    y1, e1 = conv(rotation.to_edge(x, D), edge)
    y2, e2 = conv(rotation.to_edge(x, D_rolled), edge)
    back1, back2 = (torch.cat(rotation.from_edge(y, d), dim=1) for y, d in ((y1, D), (y2, D_rolled)))
    assert_close(back2, back1, rtol=1e-12, what="frame independence")
    assert_close(e2, e1, rtol=1e-12, what="invariant extra outputs")


def test_reversed_blocks_are_those_in_the_frame_of_the_reverse_edge():
    """eSCN rotates each pair of a mirrored graph once: the reverse edge -r̂ gets the frame F R (F the
    half turn about z), whose edge-frame blocks are signed copies of R's (``EdgeRotation.reversed``)."""
    torch.manual_seed(4)
    lmax, mmax = 4, 2
    rotation = float64(lambda: EdgeRotation(lmax, mmax))
    vec = torch.randn(9, 3, dtype=torch.float64)
    R = edge_frames(vec)
    reverse = torch.diag(torch.tensor([-1.0, -1.0, 1.0], dtype=torch.float64)) @ R
    r = vec / vec.norm(dim=-1, keepdim=True)
    y = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64).expand_as(r)
    assert_close(torch.einsum("eij,ej->ei", reverse, -r), y, atol=1e-14, what="F R (-r) = y")
    x = torch.randn(9, (lmax + 1) ** 2, 5, dtype=torch.float64)
    want = rotation.to_edge(x, rotation.wigner(reverse))
    got = rotation.reversed(rotation.to_edge(x, rotation.wigner(R)))
    assert [g.shape for g in got] == [w.shape for w in want]
    for g, w in zip(got, want):
        assert_close(g, w, rtol=1e-12, atol=1e-13, what="blocks in the reverse frame")


def test_escn_mirrored_graph_gives_the_same_features_and_forces_as_the_general_path():
    """With one frame per pair (mirrored graph) the features and their gradients are those of one
    frame per edge (the same edges, not marked mirrored). Three layers: only from the third on do the
    m > 0 blocks reach the scalar output (the first layer's are zero, the last layer's go to l > 0)."""
    from equitools.models import build

    torch.manual_seed(5)
    config = {"model": "escn", "sphere_channels": 4, "hidden_channels": 6, "edge_channels": 4, "num_layers": 3}
    model = build({**config, "lmax": 3, "mmax": 2, "num_rbf": 8, "cutoff": 3.0, "dtype": "float64"})
    z = torch.tensor([6, 1, 8, 1, 6, 7, 1])
    pos = (1.2 * torch.randn(7, 3, dtype=torch.float64)).requires_grad_()
    graph = build_edges(pos, 3.0)
    assert graph.mirrored and graph.edge_index.shape[1] > 10
    outputs = []
    for g in (graph, graph._replace(mirrored=False)):
        h = model.representation(z, g)
        (force,) = torch.autograd.grad((h**2).sum(), pos, retain_graph=True)
        outputs.append((h, force))
    (h1, f1), (h2, f2) = outputs
    assert_close(h1, h2, rtol=1e-11, atol=1e-13, what="features")
    assert_close(f1, f2, rtol=1e-11, atol=1e-13, what="gradients")


def test_escn_edge_embedding_starts_led_by_the_distance():
    """At initialisation the distance part of the pre-activation has unit variance over distances
    and the element parts are ~0.001 (with both at unit scale, eSCN's forces did not fit)."""
    torch.manual_seed(0)
    basis = float64(lambda: GaussianBasis(0.0, 5.0, 64))
    embedding = float64(lambda: EdgeEmbedding(basis, 128, max_z=10, act="silu"))
    r = torch.linspace(0.8, 4.5, 200, dtype=torch.float64)
    distance_part = embedding.fc_dist(basis(r))
    assert 0.8 < float(distance_part.std()) < 1.2
    for table in (embedding.source_embedding, embedding.target_embedding):
        assert float(table.weight.abs().max()) <= 1e-3


@pytest.mark.parametrize("paths, improper", [("sparse", True), ("full", False)])
def test_group_cg_transform_is_equivariant(paths, improper):
    torch.manual_seed(3)
    G, K = 3, 2
    cg = float64(lambda: GroupCGTransform(G, K, paths))
    a = torch.randn(4, 8, G * K, dtype=torch.float64)
    b = torch.randn(4, 8, G * K, dtype=torch.float64)
    for R in [random_rotation(7)] + ([random_orthogonal(8)] if improper else []):
        D = torch.zeros(8, 8, dtype=torch.float64)
        D[:3, :3] = torch.as_tensor(so3.wigner_D(1, R))
        D[3:, 3:] = torch.as_tensor(so3.wigner_D(2, R))
        assert_close(cg(D @ a, D @ b), D @ cg(a, b), rtol=1e-12, what=f"group CG ({paths})")
    # groups are independent: changing group 0 of the inputs changes only group 0 of the output
    a2 = a.clone()
    a2[..., :K] += 1.0
    diff = (cg(a2, b) - cg(a, b)).abs().sum((0, 1))
    assert float(diff[K:].max()) == 0.0 and float(diff[:K].max()) > 0


def test_freecg_rejected_dot_equals_the_dot_of_rejections():
    torch.manual_seed(5)
    d = _edge_harmonics(torch.randn(30, 3, dtype=torch.float64))
    a, b = torch.randn(2, 30, 8, 4, dtype=torch.float64)

    def reject(v, d=d):
        return v - (v * d.unsqueeze(-1)).sum(1, keepdim=True) * d.unsqueeze(-1)

    assert_close(FreeCGLayer.rejected_dot(a, b, d), (reject(a) * reject(b)).sum(1), rtol=1e-13, what="rejected dot")
    d_half = 0.5 * d  # the identity holds for any d, not only |d|² = 2

    def reject_half(v):
        return reject(v, d_half)

    assert_close(
        FreeCGLayer.rejected_dot(a, b, d_half),
        (reject_half(a) * reject_half(b)).sum(1),
        rtol=1e-13,
        what="rejected dot, |d| != 2",
    )
    beta = (b * d.unsqueeze(-1)).sum(1)
    assert_close(
        FreeCGLayer.rejected_dot(a, b, d, beta=beta),
        (reject(a) * reject(b)).sum(1),
        rtol=1e-13,
        what="rejected dot, given b·d",
    )


@pytest.mark.parametrize(
    "config",
    [
        {"model": "freecg", "hidden_channels": 8, "num_layers": 3, "num_heads": 2, "num_groups": 2, "num_rbf": 8},
        {
            "model": "escn",
            "sphere_channels": 4,
            "hidden_channels": 6,
            "edge_channels": 4,
            "num_layers": 2,
            "lmax": 3,
            "mmax": 2,
            "num_rbf": 8,
        },
    ],
    ids=["freecg", "escn"],
)
def test_edge_blocks_give_the_same_step_as_all_edges_at_once(config, monkeypatch):
    """Energy, forces and every parameter gradient of a training step do not depend on the blocks."""
    from torch_geometric.data import Data

    from equitools.models import build

    torch.manual_seed(6)
    model = build({**config, "cutoff": 3.0, "dtype": "float64"})
    data = Data(z=torch.tensor([6, 1, 8, 1, 6, 7, 1]), pos=1.2 * torch.randn(7, 3, dtype=torch.float64))

    def step(budget):
        with edge_block_budget(budget):
            model.zero_grad()
            out = model(data)
            (out["energy"].sum() + (out["forces"] ** 2).sum()).backward()
        return [out["energy"], out["forces"]] + [p.grad.clone() for p in model.parameters() if p.grad is not None]

    whole = step(None)
    assert build_edges(data.pos, 3.0).edge_index.shape[1] > 10
    counts = []  # the number of blocks of each loop over the edges

    def counted_edge_blocks(*args):
        blocks = edge_blocks(*args)
        counts.append(len(blocks))
        return blocks

    for module in (escn, freecg):
        monkeypatch.setattr(module, "edge_blocks", counted_edge_blocks)
    blocked = step(1000)  # a few edges per block
    assert counts and min(counts) > 1
    assert len(blocked) == len(whole)
    for got, want in zip(blocked, whole):
        assert_close(got, want, rtol=1e-11, atol=1e-13, what="blocked vs whole")
