"""EquiCalculator: ASE energies, forces = -dE/dx (finite differences), stress, optimisation and MD."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import molecule
from ase.io import read
from ase.optimize import BFGS
from helpers import finite_difference_forces

from equitools.calculators import EquiCalculator, run_md
from equitools.models import build, save


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    potential = build(
        {
            "model": "tensornet",
            "hidden_channels": 8,
            "num_layers": 2,
            "num_rbf": 8,
            "cutoff": 4.0,
            "dtype": "float64",
            "atomic_energies": {1: -13.6, 6: -1029.0, 8: -2040.0},
        }
    )
    with torch.no_grad():  # make the readout matter
        for p in potential.readout.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return potential.eval()


def ethanol(seed: int = 0):
    atoms = molecule("CH3CH2OH")
    atoms.positions += np.random.default_rng(seed).normal(scale=0.05, size=atoms.positions.shape)
    return atoms


def test_forces_are_minus_the_energy_gradient(model):
    atoms = ethanol()
    atoms.calc = EquiCalculator(model)
    forces = atoms.get_forces()
    assert forces.shape == (9, 3) and np.abs(forces).max() > 1e-3
    numeric = finite_difference_forces(lambda shifted: shifted.get_potential_energy(), atoms)
    np.testing.assert_allclose(forces, numeric, atol=1e-6 * max(1.0, np.abs(forces).max()))
    assert atoms.get_potential_energy() == pytest.approx(atoms.get_potential_energies().sum(), abs=1e-9)
    assert atoms.get_potential_energy() < -2 * 1029  # the reference energies are in


def test_stress_matches_finite_strain(model):
    atoms = ethanol()
    atoms.cell = np.diag([9.0, 10.0, 11.0]) + 0.3
    atoms.pbc = False
    calc = EquiCalculator(model)
    atoms.calc = calc
    stress = atoms.get_stress()
    numeric = calc.calculate_numerical_stress(atoms, d=1e-5)
    assert np.abs(stress).max() > 1e-6
    np.testing.assert_allclose(stress, numeric, atol=1e-7)


def test_stress_without_a_cell_is_a_clear_error(model):
    atoms = ethanol()
    atoms.calc = EquiCalculator(model)
    with pytest.raises(ValueError, match="stress needs a 3D cell"):
        atoms.get_stress()


def test_bfgs_lowers_the_energy(model):
    atoms = ethanol(seed=3)
    atoms.calc = EquiCalculator(model)
    before = atoms.get_potential_energy()
    BFGS(atoms, logfile=None).run(fmax=0.05, steps=60)
    after = atoms.get_potential_energy()
    assert after < before - 1e-3
    assert (
        np.linalg.norm(atoms.get_forces(), axis=1).max()
        < np.linalg.norm(EquiCalculator(model).get_forces(ethanol(seed=3)), axis=1).max()
    )


def test_nve_conserves_energy_and_writes_the_trajectory(model, tmp_path):
    report = run_md(
        ethanol(),
        EquiCalculator(model),
        steps=60,
        timestep_fs=0.25,
        temperature_K=300,
        integrator="verlet",
        interval=10,
        trajectory=tmp_path / "md.traj",
        seed=1,
    )
    frames = read(tmp_path / "md.traj", index=":")
    assert len(frames) == len(report.time_ps) == 7  # steps 0, 10, ..., 60
    assert report.time_ps[-1] == pytest.approx(60 * 0.25e-3)
    assert report.max_deviation_meV_per_atom < 1.0
    assert np.ptp(report.potential) > 10 * np.ptp(report.total)  # energy flows, the total stays
    assert not [p for p in tmp_path.iterdir() if p.name != "md.traj"]
    summary = report.summary()
    assert summary["temperature_mean_K"] > 0 and summary["trajectory"].endswith("md.traj")
    assert report.stopped is None and summary["stopped"] is None


def test_langevin_and_bad_arguments(model):
    report = run_md(
        ethanol(), EquiCalculator(model), steps=20, integrator="langevin", interval=5, temperature_K=500, seed=2
    )
    assert len(report.temperature) == 5 and np.all(report.temperature > 0)
    with pytest.raises(ValueError, match="integrator must be one of"):
        run_md(ethanol(), EquiCalculator(model), steps=5, integrator="nose")


def test_loads_a_model_file_and_rejects_other_files(model, tmp_path):
    save(model, tmp_path / "model.pt")
    calc = EquiCalculator(tmp_path / "model.pt")
    atoms = ethanol()
    assert calc.get_potential_energy(atoms) == pytest.approx(EquiCalculator(model).get_potential_energy(atoms))
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="junk.pt"):
        EquiCalculator(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError):
        EquiCalculator(tmp_path / "missing.pt")
