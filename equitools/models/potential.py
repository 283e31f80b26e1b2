"""A potential: a representation (TensorNet, eSCN, FreeCG) + an atomic-energy readout.

E = Σ_atoms (scale · readout(h_i) + shift + E_ref[z_i]), summed in float64 (the per-element
reference energies are kept in float64 whatever the model's dtype, so a total of -10⁴ eV keeps
its sub-meV digits); forces = -∂E/∂pos by autograd
(with ``create_graph`` while training, so force losses train the parameters); stress =
(1/V) ∂E/∂ε under a homogeneous strain ε of the positions and the cell (cell' = cell (I + ε)), so
periodic images strain with the atoms; without periodic directions the cell only sets the volume.

Other readouts for molecular properties (the ``readout`` config key): "mean", the average of the
atomic contributions (an intensive property); "dipole", |μ| with μ = Σ_i q_i r_i and atomic
charges q_i = a_i - mean_structure(a) that sum to zero, so μ does not depend on the origin (the
dipole head of TorchMD-ET, Thölke & De Fabritiis, ICLR 2022). Both report the property as
``"energy"`` (the learnt target) and take no reference energies.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..nn.blocks import MLP
from ..nn.edges import build_edges
from ..nn.graph import cells_per_structure
from .checks import check_cell, check_positions, check_result

READOUTS = ("sum", "mean", "dipole")


class Potential(nn.Module):
    """Energy, forces and (optionally) stress of batches of structures.

    Call as ``model(batch)`` with a ``torch_geometric`` ``Data``/``Batch`` holding ``z`` (long),
    ``pos`` (Å) and, for several structures, ``batch``; optional ``edge_index`` (else built from
    the cutoff), ``cell`` (Å, rows = lattice vectors; ``(n_graphs, 3, 3)`` or ``(n_graphs * 3, 3)``,
    needed for stress) and ``pbc`` (bool, ``(n_graphs, 3)`` or flat). When any pbc is true, periodic
    images within the cutoff are neighbours; a given ``edge_index`` then needs its integer image
    shifts ``cell_shift`` ``(n_edges, 3)`` (as made by :class:`~equitools.data.RadiusGraph`), else
    ValueError. Non-finite positions or cells, and coincident atoms, raise
    :class:`~equitools.models.checks.GeometryError` naming the atom (pair) and structure.
    Returns ``{"energy": (n_graphs,), "forces": (n_atoms, 3)}`` in eV and eV/Å, plus
    ``"stress"`` ``(n_graphs, 3, 3)`` (eV/Å³) when asked for; energies are float64. With the
    "dipole" readout also ``"dipole"`` ``(n_graphs, 3)`` and ``"charges"`` ``(n_atoms,)``.

    ``config`` is what :func:`~equitools.models.save` writes beside the weights (``build`` passes
    the resolved config; by default ``{"model": <the representation's class name>}``); a file
    rebuilds through ``build``, so a representation of your own loads once it is registered
    (:func:`~equitools.models.register_model`).
    """

    def __init__(
        self,
        representation: nn.Module,
        config: dict[str, Any] | None = None,
        max_z: int = 100,
        atomic_energies: Any = None,
        energy_scale: float = 1.0,
        energy_shift: float = 0.0,
        readout: str = "sum",
    ):
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {list(READOUTS)}, got {readout!r}")
        references = _reference_energies(atomic_energies, max_z)
        if readout != "sum" and bool(references.any()):
            raise ValueError(
                f"per-element reference energies (atomic_energies) need the 'sum' readout, not {readout!r}"
            )
        self.readout_mode = readout
        self.config = dict(config) if config is not None else {"model": type(representation).__name__}
        self.representation = representation
        self.cutoff = float(representation.cutoff)
        width = representation.num_features
        self.readout = MLP([width, max(width // 2, 1), 1], act="silu")
        self.register_buffer("atomic_energies", references)
        self.register_buffer("energy_scale", torch.tensor(float(energy_scale)))
        self.register_buffer("energy_shift", torch.tensor(float(energy_shift)))

    @property
    def model_name(self) -> str:
        """The architecture's name, the config's ``"model"``."""
        return str(self.config.get("model"))

    def forward(
        self, data, compute_forces: bool = True, compute_stress: bool = False, create_graph: bool | None = None
    ) -> dict[str, torch.Tensor]:
        z = data.z
        pos = data.pos
        batch = getattr(data, "batch", None)
        edge_index = getattr(data, "edge_index", None)
        num_graphs = getattr(data, "num_graphs", None)
        cell = getattr(data, "cell", None)
        pbc = getattr(data, "pbc", None)
        cell_shift = getattr(data, "cell_shift", None)
        return self.compute(
            z,
            pos,
            batch,
            num_graphs,
            edge_index,
            cell,
            compute_forces,
            compute_stress,
            create_graph,
            pbc=pbc,
            cell_shift=cell_shift,
        )

    def compute(
        self,
        z: torch.Tensor,
        pos: torch.Tensor,
        batch: torch.Tensor | None = None,
        num_graphs: int | None = None,
        edge_index: torch.Tensor | None = None,
        cell: torch.Tensor | None = None,
        compute_forces: bool = True,
        compute_stress: bool = False,
        create_graph: bool | None = None,
        pbc: torch.Tensor | None = None,
        cell_shift: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """The same as ``forward`` on plain tensors."""
        if z.dim() != 1 or pos.shape != (z.shape[0], 3):
            raise ValueError(f"expected z (n_atoms,) and pos (n_atoms, 3), got {tuple(z.shape)} and {tuple(pos.shape)}")
        if int(z.min()) < 0 if z.numel() else False:
            raise ValueError("atomic numbers z must be >= 0")
        if z.numel() and int(z.max()) >= self.atomic_energies.shape[0]:
            raise ValueError(
                f"atomic number {int(z.max())} exceeds this model's max_z = {self.atomic_energies.shape[0] - 1}"
            )
        n_atoms = z.shape[0]
        if batch is None:
            batch = torch.zeros(n_atoms, dtype=torch.long, device=pos.device)
        if num_graphs is None:
            num_graphs = int(batch.max()) + 1 if n_atoms else 0
        if create_graph is None:
            create_graph = self.training
        need_grad = compute_forces or compute_stress
        if need_grad and not pos.requires_grad:
            pos = pos.detach().clone().requires_grad_(True)
        periodic = pbc is not None and bool(pbc.any())
        if periodic and cell is None:
            raise ValueError("periodic structures (pbc set) need a cell: the batch has no 'cell' attribute")
        if compute_stress and cell is None:
            raise ValueError("stress needs a cell: the batch has no 'cell' attribute")
        cell = cells_per_structure(cell).to(pos.dtype) if periodic or compute_stress else None
        if cell is not None:
            check_cell(cell)
        if periodic:  # the periodic graph needs finite positions before it looks for images
            check_positions(pos, batch)
        lattice = cell  # the cell the graph sees: strained with the atoms for stress
        strain = None
        if compute_stress:
            strain = torch.zeros(num_graphs, 3, 3, dtype=pos.dtype, device=pos.device, requires_grad=True)
            sym = 0.5 * (strain + strain.transpose(1, 2))
            pos = pos + torch.einsum("ni,nij->nj", pos, sym.index_select(0, batch))
            lattice = cell + torch.bmm(cell, sym)
        if periodic:
            graph = build_edges(pos, self.cutoff, batch, edge_index, lattice, pbc, cell_shift)
        else:
            graph = build_edges(pos, self.cutoff, batch, edge_index)
        h = self.representation(z, graph)
        atomic = self.readout(h).squeeze(-1) * self.energy_scale + self.energy_shift
        out = self._reduce(atomic, z, pos, batch, num_graphs)
        energy = out["energy"]
        if need_grad:
            inputs = [pos] if strain is None else [pos, strain]
            grads = torch.autograd.grad([energy.sum()], inputs, create_graph=create_graph, allow_unused=True)
            if compute_forces:
                out["forces"] = -grads[0] if grads[0] is not None else torch.zeros_like(pos)
            if strain is not None:
                g = grads[1] if grads[1] is not None else torch.zeros_like(strain)
                volume = torch.linalg.det(cell).abs().view(-1, 1, 1)
                out["stress"] = g / volume
        check_result(
            pos, batch, [out[k] for k in ("energy", "forces", "stress") if k in out], graph.length, graph.edge_index
        )
        return out

    def _reduce(
        self, atomic: torch.Tensor, z: torch.Tensor, pos: torch.Tensor, batch: torch.Tensor, num_graphs: int
    ) -> dict[str, torch.Tensor]:
        """Per-structure outputs (float64) from the atomic contributions ``(n_atoms,)``."""

        def per_structure(values: torch.Tensor) -> torch.Tensor:
            return values.new_zeros((num_graphs,) + values.shape[1:]).index_add(0, batch, values)

        if self.readout_mode == "sum":
            node_energy = atomic.double() + self.atomic_energies.index_select(0, z)
            return {"energy": per_structure(node_energy), "node_energy": node_energy}
        atomic = atomic.double()
        n_atoms = per_structure(torch.ones_like(atomic)).clamp(min=1.0)
        if self.readout_mode == "mean":
            return {"energy": per_structure(atomic) / n_atoms, "node_energy": atomic}
        charges = atomic - (per_structure(atomic) / n_atoms).index_select(0, batch)
        dipole = per_structure(charges.unsqueeze(-1) * pos.double())
        return {"energy": torch.linalg.vector_norm(dipole, dim=-1), "dipole": dipole, "charges": charges}

    def _apply(self, fn, recurse: bool = True):
        """As ``nn.Module._apply``, but the reference energies stay float64 (only their device moves)."""
        references = self._buffers["atomic_energies"]
        super()._apply(fn, recurse)
        self._buffers["atomic_energies"] = references.to(self._buffers["energy_scale"].device)
        return self


def _reference_energies(values: Any, max_z: int) -> torch.Tensor:
    """Per-element reference energies ``(max_z + 1,)`` float64 from a dict {z: E}, a list or None."""
    out = torch.zeros(max_z + 1, dtype=torch.float64)
    if values is None:
        return out
    if isinstance(values, dict):
        items = [(int(k), float(v)) for k, v in values.items()]
    else:
        items = list(enumerate(float(v) for v in values))
    for k, v in items:
        if not 0 <= k <= max_z:
            raise ValueError(f"atomic_energies: element {k} outside 0..max_z={max_z}")
        out[k] = v
    return out
