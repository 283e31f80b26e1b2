"""Neighbour graphs: a transform for molecules (vectorised torch, via
:func:`equitools.nn.graph.radius_graph`) and periodic systems (the ``vesin`` neighbour list).

Convention (as ``radius_graph``): ``edge_index[0]`` is the source (neighbour j), ``edge_index[1]``
the target (centre i); the edge vector is
``pos[source] - pos[target] + cell_shift @ cell`` (``cell_shift`` integer, zero for molecules).
"""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import Data

from equitools.extras import require
from equitools.nn.graph import radius_graph


def periodic_neighbour_list(
    pos: torch.Tensor, cell: torch.Tensor, pbc: torch.Tensor, cutoff: float, loop: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """All (source, target, image) pairs of one structure closer than ``cutoff`` (Å), by ``vesin``'s
    cell lists (linear in the number of atoms: for preprocessing large structures; the models'
    own graph is :func:`equitools.nn.graph.periodic_radius_graph`, differentiable in the cell).

    pos ``(n, 3)`` Å, cell ``(3, 3)`` rows = lattice vectors (Å), pbc ``(3,)`` bool.
    Returns edge_index ``(2, E)`` long (sorted by target, then source) and cell_shift ``(E, 3)``
    long. Periodic images of an atom itself are neighbours; ``loop`` adds the zero-shift self pairs.
    """
    vesin = require("vesin", "periodic", "the periodic neighbour list (vesin)")
    points = pos.detach().cpu().numpy().astype(np.float64)
    box = cell.detach().cpu().numpy().astype(np.float64).reshape(3, 3)
    periodic = [bool(p) for p in pbc.reshape(3).tolist()]
    if not any(periodic):
        box = np.zeros((3, 3))
    nl = vesin.NeighborList(cutoff=float(cutoff), full_list=True, sorted=True)
    i, j, shift = nl.compute(points, box, periodic, "ijS")
    target = torch.as_tensor(i.astype(np.int64))
    source = torch.as_tensor(j.astype(np.int64))
    shift = torch.as_tensor(shift.astype(np.int64)).reshape(-1, 3)
    if loop:
        n = pos.shape[0]
        target = torch.cat([target, torch.arange(n)])
        source = torch.cat([source, torch.arange(n)])
        shift = torch.cat([shift, torch.zeros(n, 3, dtype=torch.long)])
        order = torch.as_tensor(np.lexsort((source.numpy(), target.numpy())))
        target, source, shift = target[order], source[order], shift[order]
    device = pos.device
    return torch.stack([source, target]).to(device), shift.to(device)


class RadiusGraph:
    """Transform adding ``edge_index`` (and ``cell_shift`` when the data has a ``cell``) for
    atoms closer than ``cutoff`` (Å), to one ``Data`` or a whole ``Batch``.

    Structures with any periodic direction (``pbc``) go through ``vesin``; batches of molecules
    through the vectorised ``radius_graph`` in one call.
    """

    def __init__(self, cutoff: float, loop: bool = False):
        if not cutoff > 0:
            raise ValueError(f"cutoff must be positive, got {cutoff}")
        self.cutoff = float(cutoff)
        self.loop = loop

    def __call__(self, data: Data) -> Data:
        pos = data.pos
        batch = data.batch if "batch" in data else None
        pbc = data.pbc.reshape(-1, 3) if "pbc" in data else None
        if pbc is None or not bool(pbc.any()):
            data.edge_index = radius_graph(pos, self.cutoff, batch, self.loop)
            if "cell" in data:
                data.cell_shift = torch.zeros(data.edge_index.shape[1], 3, dtype=torch.long, device=pos.device)
            return data
        if "cell" not in data:
            raise ValueError("periodic data (pbc set) needs a cell")
        cells = data.cell.reshape(-1, 3, 3)
        ptr = _ptr(batch, pos.shape[0], pbc.shape[0])
        edges, shifts = [], []
        for k in range(pbc.shape[0]):
            a, b = int(ptr[k]), int(ptr[k + 1])
            edge_index, shift = periodic_neighbour_list(pos[a:b], cells[k], pbc[k], self.cutoff, self.loop)
            edges.append(edge_index + a)
            shifts.append(shift)
        data.edge_index = torch.cat(edges, dim=1)
        data.cell_shift = torch.cat(shifts)
        return data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(cutoff={self.cutoff}, loop={self.loop})"


def edge_vectors(data: Data) -> torch.Tensor:
    """Edge vectors ``(E, 3)`` Å: ``pos[source] - pos[target]`` plus the periodic image shift
    ``cell_shift @ cell`` where the data has one. Differentiable in ``pos`` and ``cell``."""
    source, target = data.edge_index
    vectors = data.pos[source] - data.pos[target]
    if "cell_shift" in data:
        cells = data.cell.reshape(-1, 3, 3)
        batch = (
            data.batch if "batch" in data else torch.zeros(data.pos.shape[0], dtype=torch.long, device=data.pos.device)
        )
        shift = data.cell_shift.to(vectors.dtype)
        vectors = vectors + torch.einsum("ek,ekd->ed", shift, cells.to(vectors.dtype)[batch[target]])
    return vectors


def _ptr(batch: torch.Tensor | None, n_atoms: int, n_graphs: int) -> torch.Tensor:
    if batch is None:
        return torch.tensor([0, n_atoms])
    counts = torch.bincount(batch, minlength=n_graphs)
    return torch.cat([torch.zeros(1, dtype=torch.long, device=batch.device), torch.cumsum(counts, 0)]).cpu()
