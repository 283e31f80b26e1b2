"""equitools.nn building blocks: radial bases, cutoffs, scatter, equivariant norm/gate/linear."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import float64
from torch_geometric.utils import scatter

from equitools import so3
from equitools.nn.blocks import MLP, DegreeLinear, ElementEmbedding, EquivariantLayerNorm, Gate, activation
from equitools.nn.cutoff import CosineCutoff, PolynomialCutoff, cutoff_function
from equitools.nn.edges import build_edges, edge_blocks, pair_indices
from equitools.nn.radial import BesselBasis, ExpNormalBasis, GaussianBasis, radial_basis
from equitools.nn.scatter import gather, index_add, scatter_mean, scatter_softmax, scatter_sum
from equitools.testing import assert_close, random_orthogonal, random_rotation


def test_expnormal_matches_formula():
    basis = float64(lambda: ExpNormalBasis(num_rbf=6, cutoff_upper=5.0))
    r = torch.tensor([0.5, 1.0, 4.0], dtype=torch.float64)
    alpha = 1.0
    start = math.exp(-5.0)
    means = np.linspace(start, 1.0, 6)
    beta = (2.0 / 6 * (1 - start)) ** -2
    expected = np.exp(-beta * (np.exp(-alpha * r.numpy()[:, None]) - means) ** 2)
    assert_close(basis(r), expected, rtol=1e-12, what="exp-normal")


def test_bessel_matches_formula_and_is_finite_at_zero():
    basis = float64(lambda: BesselBasis(num_basis=4, cutoff=5.0))
    r = torch.tensor([0.0, 1.3, 4.9], dtype=torch.float64)
    n = np.arange(1, 5)
    expected = (
        np.sqrt(2 / 5.0)
        * np.sin(n * np.pi * r.numpy()[:, None] / 5.0)
        / np.where(r.numpy()[:, None] == 0, 1, r.numpy()[:, None])
    )
    expected[0] = np.sqrt(2 / 5.0) * n * np.pi / 5.0
    assert_close(basis(r), expected, rtol=1e-12, what="bessel")


def test_gaussian_matches_formula():
    basis = float64(lambda: GaussianBasis(0.0, 4.0, 5))
    r = torch.tensor([0.3, 2.0], dtype=torch.float64)
    expected = np.exp(-0.5 * (r.numpy()[:, None] - np.linspace(0, 4, 5)) ** 2)
    assert_close(basis(r), expected, rtol=1e-12, what="gaussian")


@pytest.mark.parametrize("width", [1.0, 2.0])
def test_gaussian_square_sum_is_the_sum_of_squares_inside_the_grid(width):
    basis = float64(lambda: GaussianBasis(0.0, 8.0, 400, width=width))
    r = torch.linspace(1.0, 7.0, 101, dtype=torch.float64)  # away from the grid's ends
    ripple = 2 * np.exp(-(np.pi**2) * width**2)  # Poisson summation: the first alias of the Gaussian sum
    assert_close(
        (basis(r) ** 2).sum(-1), torch.full_like(r, basis.square_sum), rtol=1.1 * ripple + 1e-12, what="Σ_k φ_k(r)²"
    )


def test_radial_basis_by_name():
    assert isinstance(radial_basis("bessel", 8, 5.0), BesselBasis)
    with pytest.raises(ValueError, match="unknown radial basis 'foo'"):
        radial_basis("foo", 8, 5.0)
    with pytest.raises(ValueError, match="unknown cutoff"):
        cutoff_function("step", 5.0)


@pytest.mark.parametrize("cut", [CosineCutoff(4.0), PolynomialCutoff(4.0, p=6)])
def test_cutoffs_are_smooth_and_vanish(cut):
    r = torch.linspace(0.0, 5.0, 501, dtype=torch.float64, requires_grad=True)
    value = cut(r)
    (slope,) = torch.autograd.grad(value.sum(), r)
    assert_close(value[0], torch.tensor(1.0), atol=1e-14, what="value at 0")
    value, r = value.detach(), r.detach()
    assert float(value[r >= 4.0].abs().max()) == 0.0
    assert float(slope[(r > 3.985) & (r < 4.015)].abs().max()) < 5e-3
    assert bool((value[1:] <= value[:-1] + 1e-15).all())


def test_scatter_matches_torch_geometric():
    torch.manual_seed(0)
    src = torch.randn(20, 3, 4, dtype=torch.float64)
    index = torch.randint(0, 6, (20,))
    index[0] = 6  # a gap: row 5 may be empty, row 7 is
    assert_close(scatter_sum(src, index, 8), scatter(src, index, 0, dim_size=8, reduce="sum"), rtol=1e-14, what="sum")
    assert_close(
        scatter_mean(src, index, 8), scatter(src, index, 0, dim_size=8, reduce="mean"), rtol=1e-14, what="mean"
    )
    soft = scatter_softmax(src, index, 8)
    assert_close(
        scatter_sum(soft, index, 8)[torch.unique(index)],
        torch.ones(len(torch.unique(index)), 3, 4),
        rtol=1e-12,
        what="softmax sums",
    )


def test_mlp_embedding_activation():
    mlp = MLP([4, 8, 1])
    assert mlp(torch.randn(3, 4, dtype=torch.float32)).shape == (3, 1)
    assert ElementEmbedding(5, max_z=10)(torch.tensor([1, 10])).shape == (2, 5)
    with pytest.raises(ValueError, match="unknown activation"):
        activation("swish2")


def _block_wigner(lmax: int, R: np.ndarray) -> torch.Tensor:
    D = torch.zeros((lmax + 1) ** 2, (lmax + 1) ** 2, dtype=torch.float64)
    for l in range(lmax + 1):
        D[l * l : (l + 1) ** 2, l * l : (l + 1) ** 2] = torch.as_tensor(so3.wigner_D(l, R))
    return D


@pytest.mark.parametrize(
    "make",
    [
        lambda: EquivariantLayerNorm(3, 5),
        lambda: DegreeLinear(3, 5, 4),
    ],
)
def test_spherical_channel_blocks_are_equivariant(make):
    torch.manual_seed(1)
    block = make().double()
    x = torch.randn(7, 16, 5, dtype=torch.float64)
    for R in (random_rotation(3), random_orthogonal(4)):
        D = _block_wigner(3, R)
        assert_close(block(D @ x), D @ block(x), rtol=1e-12, what=type(block).__name__)


def test_gate_is_equivariant():
    torch.manual_seed(2)
    gate = Gate(2).double()
    x = torch.randn(4, 9, 3, dtype=torch.float64)
    g = torch.randn(4, 2, 3, dtype=torch.float64)
    D = _block_wigner(2, random_rotation(5))
    assert_close(gate(D @ x, g), D @ gate(x, g), rtol=1e-12, what="gate")


def test_edges_pairs_and_given_graph():
    torch.manual_seed(3)
    pos = torch.randn(6, 3, dtype=torch.float64)
    graph = build_edges(pos, 2.5)
    E = graph.edge_index.shape[1]
    assert E % 2 == 0
    assert_close(graph.length[graph.pair_edge][graph.pair], graph.length, rtol=0, atol=0, what="pair length")
    assert_close(graph.vec, pos[graph.edge_index[0]] - pos[graph.edge_index[1]], rtol=0, atol=0, what="edge vectors")
    flipped = graph.edge_index.flip(1)
    pair, first = pair_indices(flipped, 6)
    assert int(pair.max()) + 1 == E // 2 and first.shape == (E // 2,)
    lo = torch.minimum(flipped[0], flipped[1])
    assert bool((lo[first][pair] == lo).all())
    with pytest.raises(ValueError, match="edge_index"):
        build_edges(pos, 2.5, edge_index=torch.zeros(3, 4, dtype=torch.long))


def test_pair_scaling_and_neighbour_sum_agree_on_mirrored_and_given_graphs():
    torch.manual_seed(4)
    pos = torch.randn(7, 3, dtype=torch.float64)
    mirrored = build_edges(pos, 2.5)
    given = build_edges(pos, 2.5, edge_index=mirrored.edge_index[:, torch.randperm(mirrored.edge_index.shape[1])])
    assert mirrored.mirrored and not given.mirrored
    src, dst = mirrored.edge_index
    n_pairs = mirrored.pair_edge.shape[0]
    w = torch.randn(n_pairs, 1, 4, dtype=torch.float64)
    x = torch.randn(7, 3, 4, dtype=torch.float64)
    # reference: the pair weight of atoms {a, b}, by the unordered pair
    w_of = {frozenset((int(src[e]), int(dst[e]))): w[e] for e in range(n_pairs)}
    expected = torch.zeros_like(x)
    for j, i in zip(src.tolist(), dst.tolist()):
        expected[i] += w_of[frozenset((i, j))] * x[j]
    for graph in (mirrored, given):
        w_graph = torch.stack(
            [
                w_of[frozenset((int(graph.edge_index[0, e]), int(graph.edge_index[1, e])))]
                for e in graph.pair_edge.tolist()
            ]
        )
        assert_close(graph.neighbour_sum(x, w_graph), expected, rtol=1e-14, what="neighbour sum")
        edge_x = x.index_select(0, graph.edge_index[0])
        assert_close(
            graph.scale_by_pair(edge_x, w_graph), edge_x * w_graph[graph.pair], rtol=0, atol=0, what="pair scaling"
        )


def test_edge_blocks_partition_the_edges_within_the_budget():
    blocks = edge_blocks(10, bytes_per_edge=4, device=torch.device("cpu"), budget=12)
    assert blocks == [slice(0, 3), slice(3, 6), slice(6, 9), slice(9, 10)]
    assert edge_blocks(10, 4, torch.device("cpu"), budget=None) == [slice(0, 10)]
    assert edge_blocks(10, 4, torch.device("meta"), budget=12) == [slice(0, 10)]  # not a CPU: one block
    assert edge_blocks(10, 100, torch.device("cpu"), budget=12) == [slice(k, k + 1) for k in range(10)]
    assert edge_blocks(0, 4, torch.device("cpu"), budget=12) == [slice(0, 0)]


def test_index_add_has_torch_values_and_first_and_second_derivatives_and_keeps_only_the_index():
    torch.manual_seed(5)
    out = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    src = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    index = torch.tensor([0, 2, 2, 3, 0, 1, 2])
    assert_close(index_add(out, index, src), out.index_add(0, index, src), rtol=0, atol=0, what="values")
    assert torch.autograd.gradcheck(lambda o, s: index_add(o, index, s), (out, src))
    assert torch.autograd.gradgradcheck(lambda o, s: index_add(o, index, s) ** 2, (out, src))
    node = index_add(out, index, src).grad_fn
    saved = [t for t in node.saved_tensors if t.is_floating_point()]
    assert saved == [] and torch.equal(node.saved_tensors[0], index)


def test_gather_has_torch_values_and_derivatives_and_its_backward_graph_keeps_only_the_index():
    torch.manual_seed(6)
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    index = torch.tensor([0, 2, 2, 3, 0, 1, 2])
    assert_close(gather(x, index), x.index_select(0, index), rtol=0, atol=0, what="values")
    assert torch.autograd.gradcheck(lambda v: gather(v, index), (x,))
    assert torch.autograd.gradgradcheck(lambda v: gather(v, index) ** 2, (x,))
    incoming = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(gather(x, index), x, incoming, create_graph=True)
    assert_close(grad, torch.zeros_like(x).index_add(0, index, incoming), rtol=0, atol=0, what="backward")
    saved = [t for t in grad.grad_fn.saved_tensors if t.is_floating_point()]
    assert saved == [] and torch.equal(grad.grad_fn.saved_tensors[0], index)
