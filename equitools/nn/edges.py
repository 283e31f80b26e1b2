"""Edge geometry shared by the interaction layers.

A graph is given by ``edge_index`` ``(2, E)`` (row 0 the neighbour j, row 1 the centre i) and
the edge vectors ``pos[j] - pos[i]`` (plus ``shift @ cell`` for a periodic image of j). Most
radial work depends only on the distance, which is the same for i→j and j→i, so
:class:`EdgeGraph` also carries, for every edge, the index of its undirected pair (``pair``) and
one representative edge per pair (``pair_edge``): radial MLPs run once per pair and are gathered
back, which halves their cost on the usual symmetric graphs. Graphs built here are *mirrored*
(edges = all pairs, then the same pairs reversed; the reverse of the periodic image edge
(j→i, shift s) is (i→j, -s)), so a per-pair factor multiplies the edges by broadcasting over
the two halves instead of a gather (:meth:`EdgeGraph.scale_by_pair`): one large copy less,
forward and in both backward passes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import torch

from .graph import cells_per_structure, periodic_radius_graph, radius_graph
from .scatter import gather, index_add


class EdgeGraph(NamedTuple):
    """The directed edges of a batch of structures within the cutoff, with their geometry (Å) and
    the undirected pair of each edge, so that radial functions run once per pair."""

    edge_index: torch.Tensor  # (2, E) long: [neighbour j, centre i]
    vec: torch.Tensor  # (E, 3): pos[j] - pos[i] (+ shift @ cell for periodic images)
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
                out = index_add(out, d, gather(x, s) * w)
            return out
        return index_add(out, dst, gather(x, src) * w.index_select(0, self.pair))


EDGE_BLOCK_BYTES = 8 * 2**20
"""The default budget of :func:`edge_blocks`: 8 MiB per per-edge temporary."""

_budget: int | None = EDGE_BLOCK_BYTES


@contextmanager
def edge_block_budget(budget: int | None) -> Iterator[None]:
    """Within the ``with`` block, :func:`edge_blocks` keeps per-edge temporaries under ``budget``
    bytes (``None``: all edges in one block); the previous budget returns on exit. Process-wide
    (not per thread): the layers that loop over edge blocks (FreeCG, eSCN) all follow it.

    >>> with edge_block_budget(None):
    ...     edge_blocks(10, 2**30, torch.device("cpu"))
    [slice(0, 10, None)]
    """
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 1):
        raise ValueError(f"an edge block budget must be a number of bytes >= 1 or None, got {budget!r}")
    global _budget
    previous, _budget = _budget, budget
    try:
        yield
    finally:
        _budget = previous


_CURRENT = object()  # edge_blocks' default: the budget set by edge_block_budget


def edge_blocks(num_edges: int, bytes_per_edge: int, device: torch.device, budget=_CURRENT) -> list[slice]:
    """Contiguous edge ranges whose per-edge temporaries stay under ``budget`` bytes on a CPU.

    budget: bytes, or ``None`` for one block; by default the budget set by
    :func:`edge_block_budget` (:data:`EDGE_BLOCK_BYTES` unless changed).

    Why: glibc serves allocations above its mmap threshold (at most 32 MiB) with fresh pages
    from the OS, page-faulted on first touch, every time; smaller ones come from its heap and are
    reused. An elementwise product of two (9674, 8, 256) float32 tensors takes 15 ms fresh and
    5 ms as eight blocks here. Layers whose per-edge tensors are that large loop over these
    blocks (forward and both backward passes then allocate block-sized temporaries). On other
    devices (CUDA's caching allocator reuses memory already), or with ``budget=None``, one block.
    """
    if budget is _CURRENT:
        budget = _budget
    if budget is None or torch.device(device).type != "cpu" or num_edges == 0:
        return [slice(0, num_edges)]
    size = max(1, budget // max(1, bytes_per_edge))
    return [slice(start, min(start + size, num_edges)) for start in range(0, num_edges, size)]


def pair_indices(
    edge_index: torch.Tensor, num_nodes: int, shift: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Undirected pair of each edge and the first edge of each pair, for any ``edge_index``.

    With periodic image shifts ``shift`` ``(E, 3)``, edge (j→i, s) pairs with (i→j, -s) only.
    """
    n_edges = edge_index.shape[1]
    if n_edges == 0:
        empty = edge_index.new_zeros(0)
        return empty, empty
    forward = _canonical_direction(edge_index, shift)
    ends = torch.where(forward, edge_index, edge_index.flip(0))
    key = ends[0] * num_nodes + ends[1]
    if shift is None:
        _, pair = torch.unique(key, return_inverse=True)
    else:
        oriented = torch.where(forward.unsqueeze(-1), shift, -shift)
        _, pair = torch.unique(torch.cat([key.unsqueeze(-1), oriented], dim=1), dim=0, return_inverse=True)
    n_pairs = int(pair.max()) + 1
    ids = torch.arange(n_edges, device=edge_index.device)
    first = torch.full((n_pairs,), n_edges, dtype=torch.long, device=edge_index.device)
    first = first.scatter_reduce(0, pair, ids, "amin", include_self=True)
    return pair, first


def _canonical_direction(edge_index: torch.Tensor, shift: torch.Tensor | None = None) -> torch.Tensor:
    """``(E,)`` bool: true for exactly one direction of each pair: j < i, or j == i with the image
    shift ``(E, 3)`` lexicographically positive (its first non-zero entry > 0)."""
    source, target = edge_index
    if shift is None:
        return source < target
    sign = torch.sign(shift)
    positive = (4 * sign[:, 0] + 2 * sign[:, 1] + sign[:, 2]) > 0  # the first non-zero sign decides
    return (source < target) | ((source == target) & positive)


def build_edges(
    pos: torch.Tensor,
    cutoff: float,
    batch: torch.Tensor | None = None,
    edge_index: torch.Tensor | None = None,
    cell: torch.Tensor | None = None,
    pbc: torch.Tensor | None = None,
    shift: torch.Tensor | None = None,
) -> EdgeGraph:
    """The model's graph: ``radius_graph`` (or ``periodic_radius_graph``) within ``cutoff`` unless
    ``edge_index`` is given.

    pos ``(n_atoms, 3)`` Å; cell ``(n_graphs, 3, 3)`` rows = lattice vectors (Å); pbc
    ``(n_graphs, 3)`` bool: periodic images are neighbours when any pbc is true. A given
    ``edge_index`` is used as is (pairs found by sorting); on periodic structures it needs its
    integer image ``shift`` ``(E, 3)`` (edge vector ``pos[j] + shift @ cell - pos[i]``), else
    ValueError. When built here, edges are ordered as all pairs (j < i, or j == i with a
    lexicographically positive shift) followed by the same pairs reversed (shift negated), so the
    pair bookkeeping is free. ``vec`` is differentiable in ``pos`` and ``cell``.
    """
    periodic = pbc is not None and bool(torch.as_tensor(pbc).any())
    if edge_index is None:
        if periodic:
            full, shift = periodic_radius_graph(pos, cutoff, cell, pbc, batch)
        else:
            full, shift = radius_graph(pos, cutoff, batch), None
        edge_index, shift = _mirrored(full, shift)
        n_pairs = edge_index.shape[1] // 2
        pair = torch.arange(n_pairs, device=pos.device).repeat(2)
        pair_edge = torch.arange(n_pairs, device=pos.device)
        mirrored = True
    else:
        if edge_index.dim() != 2 or edge_index.shape[0] != 2:
            raise ValueError(f"edge_index must have shape (2, n_edges), got {tuple(edge_index.shape)}")
        if periodic and shift is None:
            raise ValueError(
                "a given edge_index on a periodic structure (pbc set) needs its image shifts "
                "(cell_shift, (n_edges, 3)); or leave edge_index out to build the graph here"
            )
        edge_index = edge_index.to(device=pos.device, dtype=torch.long)
        if shift is not None:
            shift = _checked_shift(shift, edge_index)
        pair, pair_edge = pair_indices(edge_index, pos.shape[0], shift)
        mirrored = False
    vec = pos.index_select(0, edge_index[0]) - pos.index_select(0, edge_index[1])
    if shift is not None:
        vec = vec + _image_vectors(shift, cell, batch, edge_index[1], pos.dtype)
    length = torch.sqrt((vec * vec).sum(-1))
    return EdgeGraph(edge_index, vec, length, pair, pair_edge, mirrored)


def _image_vectors(
    shift: torch.Tensor, cell: torch.Tensor | None, batch: torch.Tensor | None, target: torch.Tensor, dtype: torch.dtype
) -> torch.Tensor:
    """``shift @ cell[batch[target]]`` ``(E, 3)`` Å: each edge's lattice translation (differentiable in cell)."""
    if cell is None:
        raise ValueError("edges with periodic image shifts need a cell")
    structure = torch.zeros_like(target) if batch is None else batch.index_select(0, target)
    cell = cells_per_structure(cell).to(dtype)
    return torch.einsum("ek,ekd->ed", shift.to(dtype), cell.index_select(0, structure))


def _mirrored(edge_index: torch.Tensor, shift: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The canonical half of a symmetric graph followed by its reverse (shifts negated)."""
    half = _canonical_direction(edge_index, shift)
    edges = edge_index[:, half]
    edges = torch.cat([edges, edges.flip(0)], dim=1)
    if shift is None:
        return edges, None
    return edges, torch.cat([shift[half], -shift[half]])


def _checked_shift(shift: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
    """Image shifts as ``(E, 3)`` long, after checking their shape against ``edge_index``."""
    if shift.shape != (edge_index.shape[1], 3):
        raise ValueError(f"shift must have shape ({edge_index.shape[1]}, 3), got {tuple(shift.shape)}")
    return shift.to(device=edge_index.device, dtype=torch.long)
