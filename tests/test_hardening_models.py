"""Potentials never answer for geometry they cannot evaluate: NaN or infinite positions and cells,
and coincident atoms, raise a GeometryError naming the atom (pair); nearly coincident atoms give
finite values. The ASE calculator refuses the same structures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms
from test_models_potentials import tiny
from torch_geometric.data import Batch, Data

from equitools.calculators import EquiCalculator
from equitools.models import GeometryError

MODELS = ("tensornet", "escn", "freecg")


def water(dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    z = torch.tensor([8, 1, 1])
    pos = torch.tensor([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]], dtype=dtype)
    return z, pos


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_position_names_the_atom(name, value):
    model = tiny(name)
    z, pos = water()
    pos[2, 1] = value
    with pytest.raises(GeometryError, match=r"atom 2 \(structure 0\) has a NaN or infinite position"):
        model.compute(z, pos)


@pytest.mark.parametrize("name", MODELS)
def test_non_finite_position_in_a_batch_names_its_structure(name):
    model = tiny(name)
    z, pos = water()
    bad = pos.clone()
    bad[0, 0] = float("nan")
    batch = Batch.from_data_list([Data(z=z, pos=pos), Data(z=z, pos=bad)])
    with pytest.raises(GeometryError, match=r"atom 3 \(structure 1\)"):
        model(batch)


@pytest.mark.parametrize("name", MODELS)
def test_coincident_atoms_are_an_error_not_nan(name):
    model = tiny(name)
    z, pos = water()
    pos[2] = pos[0]
    with pytest.raises(GeometryError, match=r"atoms 0 and 2 \(structure 0\) are 0 Å apart"):
        model.compute(z, pos)


@pytest.mark.parametrize("name", MODELS)
def test_nearly_coincident_atoms_give_finite_values(name):
    model = tiny(name)
    z, pos = water()
    pos[2] = pos[0] + torch.tensor([1e-3, 0.0, 0.0], dtype=pos.dtype)
    out = model.compute(z, pos)
    assert torch.isfinite(out["energy"]).all() and torch.isfinite(out["forces"]).all()


def test_non_finite_cell_is_refused():
    model = tiny("tensornet")
    z, pos = water()
    cell = 5.0 * torch.eye(3, dtype=pos.dtype)
    cell[1, 1] = float("nan")
    with pytest.raises(GeometryError, match="cell of structure 0 has a NaN or infinite entry"):
        model.compute(z, pos, cell=cell.unsqueeze(0), pbc=torch.tensor([[True, True, True]]))


def test_periodic_non_finite_position_names_the_atom():
    model = tiny("tensornet")
    z, pos = water()
    pos[1, 0] = float("nan")
    with pytest.raises(GeometryError, match=r"atom 1 \(structure 0\)"):
        model.compute(
            z, pos, cell=5.0 * torch.eye(3, dtype=pos.dtype).unsqueeze(0), pbc=torch.tensor([[True, True, True]])
        )


def test_calculator_refuses_non_finite_positions_and_cells():
    calc = EquiCalculator(tiny("tensornet"))
    z, pos = water()
    atoms = Atoms(numbers=z.numpy(), positions=pos.numpy())
    atoms.calc = calc
    assert np.isfinite(atoms.get_potential_energy())
    atoms.positions[1, 2] = np.nan
    with pytest.raises(GeometryError, match=r"atom 1 \(H\) has a NaN or infinite position"):
        atoms.get_potential_energy()
    atoms.positions[1, 2] = 0.0
    atoms.cell = [[5.0, 0, 0], [0, np.inf, 0], [0, 0, 5.0]]
    atoms.pbc = True
    with pytest.raises(GeometryError, match="the cell has a NaN or infinite entry"):
        atoms.get_potential_energy()
