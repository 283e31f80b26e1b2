"""Neighbour graphs for batches of molecules, in plain vectorised torch (no torch-cluster)."""

from __future__ import annotations

import torch


def radius_graph(pos: torch.Tensor, cutoff: float, batch: torch.Tensor | None = None, loop: bool = False) -> torch.Tensor:
    """All ordered pairs of atoms of the same structure closer than ``cutoff`` (Å).

    pos: ``(n_atoms, 3)``; batch: ``(n_atoms,)`` structure index, sorted (as in a
    ``torch_geometric`` batch), or None for one structure.
    Returns ``edge_index`` ``(2, n_edges)`` long: both directions of every pair,
    ``edge_index[0]`` the source (neighbour j), ``edge_index[1]`` the target (centre i); the
    edge vector is ``pos[edge_index[0]] - pos[edge_index[1]]``. Cost: Σ n_atoms(structure)².
    """
    if pos.dim() != 2 or pos.shape[-1] != 3:
        raise ValueError(f"pos must have shape (n_atoms, 3), got {tuple(pos.shape)}")
    n = pos.shape[0]
    device = pos.device
    if batch is None:
        batch = torch.zeros(n, dtype=torch.long, device=device)
    if batch.shape != (n,):
        raise ValueError(f"batch must have shape ({n},), got {tuple(batch.shape)}")
    if n == 0:
        return torch.zeros(2, 0, dtype=torch.long, device=device)
    if bool((batch[1:] < batch[:-1]).any()):
        raise ValueError("batch must be sorted (atoms of one structure contiguous)")
    counts = torch.bincount(batch)
    first = torch.cumsum(counts, 0) - counts
    per_atom = counts[batch]
    target = torch.repeat_interleave(torch.arange(n, device=device), per_atom)
    start = torch.cumsum(per_atom, 0) - per_atom
    offset = torch.arange(target.numel(), device=device) - torch.repeat_interleave(start, per_atom)
    source = first[batch[target]] + offset
    keep = (pos[source] - pos[target]).norm(dim=-1) < cutoff
    if not loop:
        keep &= source != target
    return torch.stack([source[keep], target[keep]])
