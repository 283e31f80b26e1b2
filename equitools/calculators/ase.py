"""``EquiCalculator``: an ASE calculator around an ``equitools.models`` potential."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from ase.calculators.calculator import Calculator, all_changes
from torch_geometric.data import Data

from equitools.models import Potential, load
from equitools.models.checks import GeometryError


def read_potential(path: str | os.PathLike) -> Potential:
    """A model file or run folder (:func:`equitools.models.load`, no Lightning needed), or a
    training checkpoint (``.ckpt``, through ``equitools.train``: the 'train' extra)."""
    if Path(path).suffix != ".ckpt":
        return load(path)
    from equitools.train.checkpoint import load_potential

    return load_potential(path)


class EquiCalculator(Calculator):
    """Energy (eV), forces (eV/Å), per-atom energies and, for structures with a cell, the stress
    (eV/Å³, ASE's Voigt order) of an equitools potential.

    model: a :class:`~equitools.models.Potential` or a path (exported ``model.pt``, a run folder
    or a training ``.ckpt``). The neighbour graph is the model's own within its cutoff, with the
    periodic images along the directions where ``atoms.pbc`` is true (any cutoff, any cell shape;
    a periodic structure needs a non-singular cell). The stress is ``(1/V) ∂E/∂ε`` with the cell
    strained with the atoms: the true stress of a periodic crystal; without periodic directions
    the cell only sets the volume V.
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, model: Potential | str | os.PathLike, device: str = "cpu", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(model, Potential):
            model = read_potential(model)
        self.model = model.to(device).eval()
        self.device = device
        self.dtype = next(model.parameters()).dtype

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        want_stress = "stress" in properties
        if want_stress and not self.atoms.cell.rank == 3:
            raise ValueError("stress needs a 3D cell: this structure has none (set atoms.cell)")
        check_finite_structure(self.atoms)
        data = Data(
            z=torch.as_tensor(self.atoms.numbers, dtype=torch.long, device=self.device),
            pos=torch.as_tensor(self.atoms.positions, dtype=self.dtype, device=self.device),
            cell=torch.as_tensor(self.atoms.cell.array, dtype=self.dtype, device=self.device).unsqueeze(0),
            pbc=torch.as_tensor(self.atoms.pbc, dtype=torch.bool, device=self.device).unsqueeze(0),
        )
        out = self.model(data, compute_forces=True, compute_stress=want_stress)
        energy = float(out["energy"].detach().double().sum())
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "energies": out["node_energy"].detach().double().cpu().numpy(),
            "forces": out["forces"].detach().double().cpu().numpy(),
        }
        if want_stress:
            s = out["stress"].detach().double().cpu().numpy().reshape(3, 3)
            self.results["stress"] = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])


def check_finite_structure(atoms) -> None:
    """Raise :class:`GeometryError` naming the first atom with a NaN or infinite position, or a
    non-finite cell: a radius graph would silently drop such an atom."""
    bad = np.flatnonzero(~np.isfinite(atoms.positions).all(axis=1))
    if bad.size:
        i = int(bad[0])
        raise GeometryError(
            f"atom {i} ({atoms.get_chemical_symbols()[i]}) has a NaN or infinite position "
            f"{atoms.positions[i].tolist()} Å"
        )
    if not np.isfinite(atoms.cell.array).all():
        raise GeometryError(f"the cell has a NaN or infinite entry: {atoms.cell.array.tolist()}")
