"""Edge geometry shared by the interaction layers.

A graph is given by ``edge_index`` ``(2, E)`` (row 0 the neighbour j, row 1 the centre i) and
the edge vectors ``pos[j] - pos[i]``. Most radial work depends only on the distance, which is
the same for i→j and j→i, so :class:`EdgeGraph` also carries, for every edge, the index of its
undirected pair (``pair``) and one representative edge per pair (``pair_edge``): radial MLPs run
once per pair and are gathered back, which halves their cost on the usual symmetric graphs.
Graphs built here are *mirrored* (edges = all pairs, then the same pairs reversed), so a per-pair
factor multiplies the edges by broadcasting over the two halves instead of a gather
(:meth:`EdgeGraph.scale_by_pair`): one large copy less, forward and in both backward passes.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .graph import radius_graph


class EdgeGraph(NamedTuple):
    edge_index: torch.Tensor  # (2, E) long: [neighbour j, centre i]
    vec: torch.Tensor  # (E, 3): pos[j] - pos[i]
    length: torch.Tensor  # (E,)
    pair: torch.Tensor  # (E,) long: undirected pair of each edge
    pair_edge: torch.Tensor  # (P,) long: one edge of each pair
    mirrored: bool = False  # edge e and e + P are the two directions of pair e (P = E / 2)

    def scale_by_pair(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """``x * w[pair]`` for edge values ``x`` ``(E, ...)`` and per-pair factors ``w`` ``(P, ...)`` (broadcast)."""
        if self.mirrored:  # (one product per half: cheap reductions in the backward)
            return torch.cat([half * w for half in x.chunk(2)])
        return x * w.index_select(0, self.pair)

    def neighbour_sum(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Σ_j w_ij x_j per atom i: node values ``x`` ``(n, ...)``, per-pair weights ``w`` ``(P, ...)``."""
        src, dst = self.edge_index
        out = x.new_zeros(x.shape)
        if self.mirrored:  # per half: no per-edge copy of w and no (E, ...) product at once
            for s, d in zip(src.chunk(2), dst.chunk(2)):
                out = out.index_add(0, d, x.index_select(0, s) * w)
            return out
        return out.index_add(0, dst, x.index_select(0, src) * w.index_select(0, self.pair))


def pair_indices(edge_index: torch.Tensor, num_nodes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Undirected pair of each edge and the first edge of each pair, for any ``edge_index``."""
    n_edges = edge_index.shape[1]
    if n_edges == 0:
        empty = edge_index.new_zeros(0)
        return empty, empty
    lo = torch.minimum(edge_index[0], edge_index[1])
    hi = torch.maximum(edge_index[0], edge_index[1])
    _, pair = torch.unique(lo * num_nodes + hi, return_inverse=True)
    n_pairs = int(pair.max()) + 1
    ids = torch.arange(n_edges, device=edge_index.device)
    first = torch.full((n_pairs,), n_edges, dtype=torch.long, device=edge_index.device)
    first = first.scatter_reduce(0, pair, ids, "amin", include_self=True)
    return pair, first


def build_edges(pos: torch.Tensor, cutoff: float, batch: torch.Tensor | None = None,
                edge_index: torch.Tensor | None = None) -> EdgeGraph:
    """The model's graph: ``radius_graph`` within ``cutoff`` unless ``edge_index`` is given.

    When built here, edges are ordered as all pairs i<j followed by the same pairs reversed, so
    the pair bookkeeping is free; a given ``edge_index`` is used as is (pairs found by sorting).
    """
    if edge_index is None:
        full = radius_graph(pos, cutoff, batch)
        half = full[:, full[0] < full[1]]
        edge_index = torch.cat([half, half.flip(0)], dim=1)
        n_pairs = half.shape[1]
        pair = torch.arange(n_pairs, device=pos.device).repeat(2)
        pair_edge = torch.arange(n_pairs, device=pos.device)
        mirrored = True
    else:
        if edge_index.dim() != 2 or edge_index.shape[0] != 2:
            raise ValueError(f"edge_index must have shape (2, n_edges), got {tuple(edge_index.shape)}")
        edge_index = edge_index.to(device=pos.device, dtype=torch.long)
        pair, pair_edge = pair_indices(edge_index, pos.shape[0])
        mirrored = False
    vec = pos.index_select(0, edge_index[0]) - pos.index_select(0, edge_index[1])
    length = torch.sqrt((vec * vec).sum(-1))
    return EdgeGraph(edge_index, vec, length, pair, pair_edge, mirrored)
