"""Neighbour graphs for batches of molecules and periodic structures, in plain vectorised torch
(no torch-cluster)."""

from __future__ import annotations

import torch

# fractional slack on the periodic image bounds: candidates are filtered by distance afterwards
_IMAGE_SLACK = 1e-6


def radius_graph(
    pos: torch.Tensor, cutoff: float, batch: torch.Tensor | None = None, loop: bool = False
) -> torch.Tensor:
    """All ordered pairs of atoms of the same structure closer than ``cutoff`` (Å).

    pos: ``(n_atoms, 3)``; batch: ``(n_atoms,)`` structure index, sorted (as in a
    ``torch_geometric`` batch), or None for one structure.
    Returns ``edge_index`` ``(2, n_edges)`` long: both directions of every pair,
    ``edge_index[0]`` the source (neighbour j), ``edge_index[1]`` the target (centre i); the
    edge vector is ``pos[edge_index[0]] - pos[edge_index[1]]``. Cost: Σ n_atoms(structure)².
    """
    batch = _checked_batch(pos, batch)
    source, target = _structure_pairs(batch)
    keep = (pos[source] - pos[target]).norm(dim=-1) < cutoff
    if not loop:
        keep &= source != target
    return torch.stack([source[keep], target[keep]])


def periodic_radius_graph(
    pos: torch.Tensor, cutoff: float, cell: torch.Tensor, pbc: torch.Tensor, batch: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """All (neighbour j, centre i, image shift s) closer than ``cutoff`` (Å), periodic images included.

    pos ``(n_atoms, 3)`` Å (need not be wrapped into the cell); cell ``(n_graphs, 3, 3)`` (or as
    :func:`cells_per_structure` accepts), rows = lattice vectors in Å; pbc ``(n_graphs, 3)`` bool (or
    flat); batch as in :func:`radius_graph`. A structure with any periodic direction needs a
    non-singular cell (a non-periodic direction's vector only enters the fractional coordinates);
    the cell of a structure without one is not used (molecules may be batched with crystals).
    Returns ``edge_index`` ``(2, E)`` long (row 0 = j, row 1 = i) and ``shift`` ``(E, 3)`` long: the
    edge vector is ``pos[j] + shift @ cell[batch[j]] - pos[i]``. Both directions of every pair are
    listed; an atom's own images are neighbours (i == j, shift ≠ 0), the zero-shift self pair is not.
    Works for any cutoff, also beyond the cell size. Cost: Σ_structures n_atoms² × the number of
    images per pair, about Π_k (2 · cutoff / d_k + 1) over periodic directions, d_k the spacing of
    lattice planes.
    """
    batch = _checked_batch(pos, batch)
    cell, pbc = _checked_cell(cell, pbc, batch)
    if not cutoff > 0:
        raise ValueError(f"cutoff must be positive, got {cutoff}")
    if not bool(torch.isfinite(pos).all()):
        raise ValueError("pos contains NaN or infinite coordinates")
    x, lattice = pos.detach().double(), cell.detach().double()
    source, target = _structure_pairs(batch)
    lo, count = _image_ranges(x, lattice, pbc, batch, source, target, cutoff)
    pair, index = _ragged_arange(count.prod(-1))
    shift = lo.index_select(0, pair) + _unravel(index, count.index_select(0, pair))
    source, target = source[pair], target[pair]
    image = torch.einsum("ek,ekd->ed", shift.double(), lattice.index_select(0, batch[target]))
    length = (x[source] - x[target] + image).norm(dim=-1)
    keep = (length < cutoff) & ((source != target) | shift.any(-1))
    return torch.stack([source[keep], target[keep]]), shift[keep]


def _checked_batch(pos: torch.Tensor, batch: torch.Tensor | None) -> torch.Tensor:
    """``batch`` (zeros when None) after checking the shapes of ``pos`` and ``batch`` and the order."""
    if pos.dim() != 2 or pos.shape[-1] != 3:
        raise ValueError(f"pos must have shape (n_atoms, 3), got {tuple(pos.shape)}")
    n = pos.shape[0]
    if batch is None:
        return torch.zeros(n, dtype=torch.long, device=pos.device)
    if batch.shape != (n,):
        raise ValueError(f"batch must have shape ({n},), got {tuple(batch.shape)}")
    if bool((batch[1:] < batch[:-1]).any()):
        raise ValueError("batch must be sorted (atoms of one structure contiguous)")
    return batch


def cells_per_structure(cell: torch.Tensor) -> torch.Tensor:
    """``cell`` as ``(n_graphs, 3, 3)``, from ``(n_graphs, 3, 3)``, ``(3, 3)`` or ``(n_graphs * 3, 3)`` (as
    ``torch_geometric`` batching stacks per-structure ``(3, 3)`` cells); ValueError for other shapes."""
    stacked = cell.dim() == 2 and cell.shape[1] == 3 and cell.shape[0] % 3 == 0
    if not (stacked or (cell.dim() == 3 and cell.shape[1:] == (3, 3))):
        raise ValueError(f"cell must have shape (n_graphs, 3, 3) or (n_graphs * 3, 3), got {tuple(cell.shape)}")
    return cell.reshape(-1, 3, 3)


def _checked_cell(cell: torch.Tensor, pbc: torch.Tensor, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``cell`` ``(n_graphs, 3, 3)`` and ``pbc`` ``(n_graphs, 3)`` bool, after checking shapes and volumes."""
    cell = cells_per_structure(cell)
    pbc = torch.as_tensor(pbc, device=cell.device)
    if pbc.numel() != 3 * cell.shape[0] or pbc.shape[-1] != 3:
        raise ValueError(f"pbc must have shape ({cell.shape[0]}, 3) to match the cell, got {tuple(pbc.shape)}")
    pbc = pbc.reshape(-1, 3).bool()
    if batch.numel() and int(batch.max()) >= cell.shape[0]:
        raise ValueError(f"batch has {int(batch.max()) + 1} structures but the cell only {cell.shape[0]}")
    if not bool(torch.isfinite(cell).all()):
        raise ValueError("cell contains NaN or infinite entries")
    lattice = cell.detach().double()
    volume = torch.linalg.det(lattice).abs()
    scale = lattice.norm(dim=-1).prod(-1)
    singular = pbc.any(-1) & ~(volume > 1e-8 * scale)
    if bool(singular.any()):
        k = int(singular.nonzero()[0])
        raise ValueError(
            f"cell of structure {k} is singular (volume {float(volume[k]):.3g} Å^3) but pbc = "
            f"{pbc[k].tolist()}: periodic structures need three independent cell vectors"
        )
    return cell, pbc


def _structure_pairs(batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every ordered pair (source, target) of atoms of the same structure, i == j included."""
    counts = torch.bincount(batch)
    first = torch.cumsum(counts, 0) - counts
    target, offset = _ragged_arange(counts[batch])
    return first[batch[target]] + offset, target


def _ragged_arange(counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For ``counts`` ``(m,)``: owner ``k`` and index ``0..counts[k]-1`` of each of ``Σ counts`` items."""
    owner = torch.repeat_interleave(torch.arange(counts.numel(), device=counts.device), counts)
    start = torch.cumsum(counts, 0) - counts
    return owner, torch.arange(owner.numel(), device=counts.device) - start.index_select(0, owner)


def _image_ranges(
    x: torch.Tensor,
    lattice: torch.Tensor,
    pbc: torch.Tensor,
    batch: torch.Tensor,
    source: torch.Tensor,
    target: torch.Tensor,
    cutoff: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per pair, the box of shifts that can bring j within ``cutoff`` of i: lowest shift and count per axis.

    |Δf_k + s_k| = |(x_j + s·cell - x_i)·b_k| ≤ |x_j + s·cell - x_i| |b_k| (b_k the reciprocal
    vectors, Δf the fractional difference), so s_k lies in (-cutoff |b_k| - Δf_k, cutoff |b_k| - Δf_k);
    s_k = 0 if not periodic.
    """
    eye = torch.eye(3, dtype=lattice.dtype, device=lattice.device)
    usable = torch.where(pbc.any(-1)[:, None, None], lattice, eye)  # other cells may be singular
    inverse = torch.linalg.inv(usable)  # columns are the reciprocal vectors b_k
    frac = torch.einsum("nd,ndk->nk", x, inverse.index_select(0, batch))
    graph = batch.index_select(0, target)
    periodic = pbc.index_select(0, graph)
    reach = cutoff * inverse.norm(dim=1).index_select(0, graph) + _IMAGE_SLACK
    delta = frac.index_select(0, source) - frac.index_select(0, target)
    lo = torch.where(periodic, torch.ceil(-reach - delta), 0).long()
    hi = torch.where(periodic, torch.floor(reach - delta), 0).long()
    return lo, (hi - lo + 1).clamp(min=0)


def _unravel(index: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """Row-major 3D position ``(m, 3)`` of flat ``index`` ``(m,)`` in boxes of sizes ``count`` ``(m, 3)``."""
    z = index % count[:, 2]
    rest = index // count[:, 2]
    return torch.stack([rest // count[:, 1], rest % count[:, 1], z], dim=-1)
