"""ExtXYZ: the real extended-XYZ sets, configurable keys and units, periodic cells."""

import ase.io
import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator
from data_helpers import shared

from equitools.data import RMD17, ExtXYZ


def test_real_sets_load_in_ev(tmp_path):
    bpa = ExtXYZ(shared("extxyz", "3bpa_train_300K.xyz"), cache_dir=tmp_path)
    assert len(bpa) == 500 and bpa.n_atoms.unique().tolist() == [27]
    assert float(bpa[0].energy) == pytest.approx(-17660.461737861464)
    assert bpa[0].pbc.tolist() == [[False, False, False]]
    aspirin = ExtXYZ(shared("extxyz", "rmd17_aspirin_train.xyz"), cache_dir=tmp_path)
    assert len(aspirin) == 1200
    # the same molecule as rMD17's aspirin, and the same energy scale once rMD17 is converted
    rmd17 = RMD17(shared("rmd17"), "aspirin", "test", cache_dir=tmp_path)
    assert aspirin[0].z.tolist() == rmd17[0].z.tolist()
    assert abs(float(aspirin.energies.mean()) - float(rmd17.energies.mean())) < 1.0
    net = torch.stack([aspirin[i].forces.double().sum(0) for i in range(0, 1200, 97)])
    assert float(net.norm(dim=1).max()) < 1e-3


def test_custom_keys_and_units(tmp_path):
    frames = []
    for k in range(3):
        atoms = Atoms("OH2", positions=[[0, 0, k * 0.01], [0.96, 0, 0], [-0.24, 0.93, 0]])
        atoms.info["REF_energy"] = -100.0 - k
        atoms.arrays["REF_forces"] = np.full((3, 3), 0.5 * k)
        frames.append(atoms)
    path = tmp_path / "water.extxyz"
    ase.io.write(path, frames, format="extxyz")
    ds = ExtXYZ(path, energy_key="REF_energy", forces_key="REF_forces", energy_unit="kcal/mol", use_cache=False)
    kcal = 0.0433641043
    assert float(ds[2].energy) == pytest.approx(-102.0 * kcal, rel=1e-8)
    assert torch.allclose(ds[2].forces.double(), torch.full((3, 3), 1.0 * kcal, dtype=torch.float64), atol=1e-7)
    structures = ExtXYZ(path, energy_key=None, forces_key=None, use_cache=False)
    assert "energy" not in structures[0] and "forces" not in structures[0]


def test_periodic_cell_and_calculator_labels(tmp_path):
    crystal = bulk("Si", cubic=True)
    crystal.calc = SinglePointCalculator(crystal, energy=-43.2, forces=np.zeros((8, 3)))
    path = tmp_path / "si.xyz"
    ase.io.write(path, [crystal], format="extxyz")
    d = ExtXYZ(path, use_cache=False, dtype=torch.float64)[0]
    assert d.pbc.tolist() == [[True, True, True]]
    assert torch.allclose(d.cell[0], torch.tensor(crystal.cell.array))
    assert float(d.energy) == -43.2


def test_any_ase_format_with_variable_atom_counts(tmp_path):
    """An ASE trajectory of molecules of different sizes, labels from the attached calculator."""
    from ase.build import molecule
    from ase.io import Trajectory

    path = tmp_path / "mixed.traj"
    with Trajectory(path, "w") as traj:
        for k, name in enumerate(("H2O", "CH4", "C6H6")):
            atoms = molecule(name)
            atoms.calc = SinglePointCalculator(atoms, energy=-float(k), forces=np.full((len(atoms), 3), float(k)))
            traj.write(atoms)
    ds = ExtXYZ(path, use_cache=False)
    assert ds.n_atoms.tolist() == [3, 5, 12]
    assert ds.metadata["format"] == "ase:auto"
    assert float(ds[2].energy) == -2.0 and ds[2].forces.shape == (12, 3) and float(ds[2].forces[5, 1]) == 2.0
    assert ds[1].z.tolist() == [6, 1, 1, 1, 1]
