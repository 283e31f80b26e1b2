"""Periodic boundary conditions: the neighbour graph against ASE, and the potential and ASE
calculator on periodic cells (invariances, extensivity, forces and stress by finite differences)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress
from ase.filters import FrechetCellFilter
from ase.neighborlist import neighbor_list
from ase.optimize import BFGS
from helpers import finite_difference_forces, one_torch_thread  # noqa: F401 (fixture)
from torch_geometric.data import Batch, Data

from equitools.calculators import EquiCalculator
from equitools.data import RadiusGraph
from equitools.models import build
from equitools.nn.edges import build_edges
from equitools.nn.graph import periodic_radius_graph
from equitools.testing import assert_close, random_rotation

CUTOFF = 3.5

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    potential = build(
        {
            "model": "tensornet",
            "hidden_channels": 8,
            "num_layers": 1,
            "num_rbf": 8,
            "cutoff": CUTOFF,
            "energy_scale": 10.0,
            "dtype": "float64",
        }
    )
    with torch.no_grad():  # make the readout matter
        for p in potential.readout.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return potential.eval()


def triclinic(seed: int = 0, pbc=True) -> Atoms:
    """Three atoms in a skewed cell smaller than the cutoff (atoms see their own images), not wrapped."""
    cell = np.array([[2.6, 0.0, 0.0], [0.8, 2.4, 0.0], [-0.5, 0.7, 2.5]])
    rng = np.random.default_rng(seed)
    atoms = Atoms([14, 8, 1], scaled_positions=rng.uniform(size=(3, 3)), cell=cell, pbc=pbc)
    atoms.positions += rng.integers(-2, 3, size=(3, 3)) @ cell  # some atoms outside the cell
    return atoms


def as_data(atoms: Atoms) -> Data:
    return Data(
        z=torch.tensor(atoms.numbers),
        pos=torch.tensor(atoms.positions),
        cell=torch.tensor(atoms.cell.array).unsqueeze(0),
        pbc=torch.tensor(atoms.pbc).unsqueeze(0),
    )


def rotated(atoms: Atoms, seed: int) -> Atoms:
    """``atoms`` with positions and cell rotated together by a random rotation."""
    R = random_rotation(seed=seed)
    out = atoms.copy()
    out.set_cell(atoms.cell.array @ R.T, scale_atoms=False)
    out.positions = atoms.positions @ R.T
    return out


def energy(model, atoms: Atoms) -> float:
    return float(model(as_data(atoms), compute_forces=False)["energy"].detach().sum())


def ase_shifts(atoms: Atoms, cutoff: float, offset: int = 0) -> set:
    """ASE's (j, i, shift) triples, in our convention (row 0 = neighbour j)."""
    i, j, shift = neighbor_list("ijS", atoms, cutoff)
    return {(int(b) + offset, int(a) + offset, *map(int, s)) for a, b, s in zip(i, j, shift)}


def ase_vectors(atoms: Atoms, cutoff: float) -> list:
    i, j, vec = neighbor_list("ijD", atoms, cutoff)
    return sorted((int(b), int(a), *np.round(v, 9)) for a, b, v in zip(i, j, vec))


def our_shifts(edge_index: torch.Tensor, shift: torch.Tensor) -> set:
    return {(j, i, *s) for (j, i), s in zip(edge_index.T.tolist(), shift.tolist())}


@pytest.mark.parametrize("pbc", [(True, True, True), (True, True, False), (False, True, False)])
def test_graph_equals_ase_with_self_images_and_mixed_pbc(pbc):
    atoms = triclinic(pbc=pbc)
    edge_index, shift = periodic_radius_graph(
        torch.tensor(atoms.positions), CUTOFF, torch.tensor(atoms.cell.array), torch.tensor(atoms.pbc)
    )
    expected = ase_shifts(atoms, CUTOFF)
    assert our_shifts(edge_index, shift) == expected and edge_index.shape[1] == len(expected)
    assert any(j == i for j, i, *_ in expected)  # own images are neighbours
    assert not any(shift[:, k].any() for k in range(3) if not pbc[k])
    data = as_data(atoms)
    graph = build_edges(data.pos, CUTOFF, cell=data.cell, pbc=data.pbc)
    ours = sorted((j, i, *np.round(v, 9)) for (j, i), v in zip(graph.edge_index.T.tolist(), graph.vec.tolist()))
    assert ours == ase_vectors(atoms, CUTOFF)
    half = graph.edge_index.shape[1] // 2  # mirrored: edge e + P is edge e reversed
    assert graph.mirrored and torch.equal(graph.edge_index[:, half:], graph.edge_index[:, :half].flip(0))
    assert_close(graph.vec[half:], -graph.vec[:half], rtol=0, atol=1e-14, what="reversed edge vectors")


def test_graph_of_a_batch_of_cells_and_a_molecule_equals_ase():
    a, b = triclinic(seed=1), bulk("Cu", "fcc", a=3.6).repeat((1, 1, 2))
    b.pbc = (True, False, True)
    c = Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])  # no cell at all
    batch = Batch.from_data_list([as_data(a), as_data(b), as_data(c)])
    edge_index, shift = periodic_radius_graph(batch.pos, CUTOFF, batch.cell, batch.pbc, batch.batch)
    expected = ase_shifts(a, CUTOFF) | ase_shifts(b, CUTOFF, offset=len(a)) | ase_shifts(c, CUTOFF, len(a) + len(b))
    assert our_shifts(edge_index, shift) == expected
    flat = periodic_radius_graph(batch.pos, CUTOFF, batch.cell.reshape(-1, 3), batch.pbc, batch.batch)
    assert torch.equal(flat[0], edge_index) and torch.equal(flat[1], shift)


def test_energy_is_invariant_under_lattice_translations_wrapping_and_rotations(model):
    atoms = triclinic(seed=2)
    reference = energy(model, atoms)
    moved = atoms.copy()
    moved.positions[1] += atoms.cell[0] - 2 * atoms.cell[2]
    wrapped = atoms.copy()
    wrapped.wrap()
    shifted_origin = atoms.copy()
    shifted_origin.positions += np.array([0.3, -1.7, 0.9])
    for name, other in {
        "lattice translation": moved,
        "wrapped": wrapped,
        "rotation": rotated(atoms, seed=3),
        "translation": shifted_origin,
    }.items():
        assert_close(energy(model, other), reference, rtol=1e-12, what=name)
    not_periodic = atoms.copy()
    not_periodic.pbc = False  # the images matter: a check that the tests above could fail
    assert abs(energy(model, not_periodic) - reference) > 1e-3


@pytest.mark.parametrize("repeat", [(2, 1, 1), (2, 2, 1)])
def test_supercell_energy_is_extensive(model, repeat):
    atoms = triclinic(seed=4)
    n = int(np.prod(repeat))
    assert_close(energy(model, atoms.repeat(repeat)), n * energy(model, atoms), rtol=1e-10, what=f"{repeat} supercell")


@pytest.mark.parametrize(
    "config",
    [
        {
            "model": "escn",
            "sphere_channels": 8,
            "hidden_channels": 8,
            "edge_channels": 8,
            "num_layers": 1,
            "lmax": 2,
            "mmax": 2,
            "num_basis": 8,
        },
        {"model": "freecg", "hidden_channels": 16, "num_layers": 1, "num_heads": 2, "num_groups": 4, "num_rbf": 8},
    ],
    ids=["escn", "freecg"],
)
def test_other_architectures_on_periodic_cells(config):
    torch.manual_seed(1)
    model = build({**config, "cutoff": CUTOFF, "dtype": "float64"}).eval()
    atoms = triclinic(seed=7)
    reference = energy(model, atoms)
    assert_close(energy(model, rotated(atoms, seed=8)), reference, rtol=1e-11, what="rotation")
    assert_close(energy(model, atoms.repeat((2, 2, 1))), 4 * reference, rtol=1e-10, what="2x2x1 supercell")


def test_forces_and_stress_are_energy_derivatives(model):
    atoms = triclinic(seed=5)
    out = model(as_data(atoms), compute_stress=True)
    forces, stress = out["forces"].detach().numpy(), out["stress"][0].detach().numpy()
    h = 1e-5
    numeric = finite_difference_forces(lambda moved: energy(model, moved), atoms, h)
    assert np.abs(forces).max() > 1e-2
    assert_close(forces, numeric, rtol=1e-7, atol=1e-9, what="forces vs finite differences")
    numeric = np.zeros((3, 3))
    for a in range(3):
        for b in range(3):
            for sign in (1, -1):
                strain = np.zeros((3, 3))
                strain[a, b] += sign * h / 2
                strain[b, a] += sign * h / 2
                strained = atoms.copy()  # cell and positions: r -> r (I + ε)
                strained.set_cell(atoms.cell.array @ (np.eye(3) + strain), scale_atoms=False)
                strained.positions = atoms.positions @ (np.eye(3) + strain)
                numeric[a, b] += sign * energy(model, strained) / (2 * h)
    numeric /= atoms.get_volume()
    assert np.abs(stress).max() > 1e-3
    assert_close(stress, numeric, rtol=1e-6, atol=1e-10, what="stress vs finite strain")


def test_given_edges_with_image_shifts_match_the_built_graph(model):
    data = Batch.from_data_list([as_data(triclinic(seed=6)), as_data(bulk("Si", "diamond", a=5.43))])
    built = model(data, compute_stress=True)
    given = RadiusGraph(CUTOFF)(data.clone())  # several edges per atom pair, told apart by their shifts
    out = model(given, compute_stress=True)
    for key in ("energy", "forces", "stress"):
        assert_close(out[key], built[key], rtol=1e-11, what=f"{key} with a given edge_index and cell_shift")
    del given.cell_shift
    with pytest.raises(ValueError, match="needs its image shifts"):
        model(given)


def rattled_silicon() -> Atoms:
    atoms = bulk("Si", "diamond", a=5.43).repeat((1, 1, 2))
    atoms.rattle(0.15, seed=1)
    atoms.set_cell(
        atoms.cell.array @ (np.eye(3) + [[0.01, 0.02, 0], [0.02, -0.01, 0], [0, 0, 0.015]]), scale_atoms=True
    )
    return atoms


def test_calculator_forces_and_stress_on_a_crystal(model):
    atoms = rattled_silicon()
    atoms.calc = EquiCalculator(model)
    forces, stress = atoms.get_forces(), atoms.get_stress()
    assert np.abs(forces).max() > 1e-2 and np.abs(stress).max() > 1e-3
    assert_close(forces, calculate_numerical_forces(atoms, eps=1e-5), rtol=1e-7, atol=1e-9, what="forces")
    assert_close(stress, calculate_numerical_stress(atoms, eps=1e-5), rtol=1e-6, atol=1e-10, what="stress")
    assert atoms.get_potential_energy() == pytest.approx(atoms.get_potential_energies().sum(), abs=1e-10)


def test_cell_and_positions_relax_under_bfgs(model):
    atoms = rattled_silicon()
    atoms.calc = EquiCalculator(model)
    before = atoms.get_potential_energy()
    BFGS(FrechetCellFilter(atoms), logfile=None).run(fmax=0.02, steps=5)
    assert atoms.get_potential_energy() < before - 1e-3
    assert not np.allclose(atoms.cell.array, rattled_silicon().cell.array)  # the cell moved too


def test_bad_input_is_a_clear_error(model):
    pos, cell = torch.zeros(2, 3, dtype=torch.float64), torch.eye(3, dtype=torch.float64)
    pbc = torch.ones(3, dtype=torch.bool)
    with pytest.raises(ValueError, match="NaN"):
        periodic_radius_graph(torch.tensor([[0.0, 0.0, 0.0], [float("nan"), 0.0, 0.0]]), 1.0, cell, pbc)
    flat = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [1.0, 1.0, 0]])
    with pytest.raises(ValueError, match="singular"):
        periodic_radius_graph(pos, 1.0, flat, torch.tensor([True, True, False]))
    with pytest.raises(ValueError, match="cell must have shape"):
        periodic_radius_graph(pos, 1.0, torch.eye(2), pbc)
    with pytest.raises(ValueError, match="pbc must have shape"):
        periodic_radius_graph(pos, 1.0, cell, torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="pos must have shape"):
        periodic_radius_graph(torch.zeros(2, 2), 1.0, cell, pbc)
    with pytest.raises(ValueError, match="cutoff must be positive"):
        periodic_radius_graph(pos, 0.0, cell, pbc)
    data = as_data(triclinic())
    data.cell = data.cell[..., :2]
    with pytest.raises(ValueError, match="cell must have shape"):
        model(data)
    del data.cell
    with pytest.raises(ValueError, match="need a cell"):
        model(data)
    data = as_data(triclinic())
    data.cell = torch.zeros(1, 3, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="singular"):
        model(data)
