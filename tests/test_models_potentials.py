"""Every potential (TensorNet, eSCN, FreeCG), float64: symmetries, forces, batching, edge cases,
overfitting real rMD17 frames. One shared checker (``equitools.testing``) for all of them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data

from equitools.models import build
from equitools.paths import shared_data_dir
from equitools.testing import (
    assert_close,
    check_batch_equals_one_by_one,
    check_forces_are_gradient,
    check_isolated_atom,
    check_potential_symmetries,
    random_molecule,
)

TINY = {
    "tensornet": {"hidden_channels": 8, "num_layers": 2, "num_rbf": 8, "cutoff": 4.0},
    "tensornet-so3": {
        "model": "tensornet",
        "hidden_channels": 8,
        "num_layers": 2,
        "num_rbf": 8,
        "cutoff": 4.0,
        "equivariance_group": "SO(3)",
    },
    "escn": {
        "sphere_channels": 8,
        "hidden_channels": 8,
        "edge_channels": 8,
        "num_layers": 2,
        "lmax": 3,
        "mmax": 2,
        "num_basis": 8,
        "cutoff": 4.0,
    },
    "freecg": {"hidden_channels": 16, "num_layers": 2, "num_heads": 2, "num_groups": 4, "num_rbf": 8, "cutoff": 4.0},
    "freecg-full": {
        "model": "freecg",
        "hidden_channels": 16,
        "num_layers": 2,
        "num_heads": 2,
        "num_groups": 4,
        "num_rbf": 8,
        "cutoff": 4.0,
        "cg_paths": "full",
    },
}
O3 = {"tensornet", "freecg"}  # models whose energy is also invariant under reflections
# a little wider where 8 channels learn too slowly for the overfitting test
OVERFIT = {
    "escn": {"sphere_channels": 16, "hidden_channels": 16, "edge_channels": 16, "lmax": 2},
    "freecg": {"hidden_channels": 32, "num_heads": 4, "num_groups": 4},
}


def tiny(name: str, **extra) -> torch.nn.Module:
    config = {"model": name, **TINY[name], "dtype": "float64", **extra}
    config["model"] = TINY[name].get("model", name)
    torch.manual_seed(0)
    return build(config)


def batch_of(*sizes: int) -> Batch:
    return Batch.from_data_list([random_molecule(n, seed=10 + k) for k, n in enumerate(sizes)])


@pytest.fixture(scope="module", params=list(TINY))
def name(request):
    """Every model and variant."""
    return request.param


@pytest.fixture(scope="module", params=["tensornet", "escn", "freecg"])
def model_name(request):
    """The three architectures at their default variant (for the slower tests)."""
    return request.param


TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-4}
"""Relative tolerance of the symmetry checks per dtype (as e3nn's float_tolerance)."""


@pytest.mark.parametrize("dtype", list(TOLERANCE), ids=str)
def test_symmetries(name, dtype):
    model = tiny(name).to(dtype)
    batch = batch_of(7, 5)
    batch.pos = batch.pos.to(dtype)
    errors = check_potential_symmetries(model, batch, reflections=name in O3, rtol=TOLERANCE[dtype])
    assert errors


def test_forces_are_minus_energy_gradient(name):
    model = tiny(name)
    check_forces_are_gradient(model, batch_of(6), eps=1e-5, atoms=3, rtol=1e-7)


def test_batch_equals_one_by_one(name):
    model = tiny(name)
    molecules = [random_molecule(n, seed=20 + n) for n in (8, 3, 5)]
    check_batch_equals_one_by_one(model, molecules)


def test_isolated_atom_and_single_atom_are_finite(name):
    model = tiny(name)
    lone = Data(z=torch.tensor([8]), pos=torch.zeros(1, 3, dtype=torch.float64))
    out = model(Batch.from_data_list([lone]))
    assert out["energy"].shape == (1,) and out["forces"].shape == (1, 3)
    assert torch.isfinite(out["energy"]).all() and torch.isfinite(out["forces"]).all()
    assert_close(out["forces"], torch.zeros(1, 3), atol=0, what="force on a single atom")
    # an atom beyond the cutoff of a molecule: no neighbours, still finite, an energy of its own
    check_isolated_atom(model, random_molecule(4, seed=3))


def test_given_edge_index_matches_built_graph(name):
    from equitools.nn.graph import radius_graph

    model = tiny(name)
    data = batch_of(6, 4)
    built = model(data)
    given = data.clone()
    given.edge_index = radius_graph(data.pos, model.cutoff, data.batch)
    out = model(given)
    assert_close(out["energy"], built["energy"], rtol=1e-12, what="energy with given edge_index")
    assert_close(out["forces"], built["forces"], rtol=1e-12, what="forces with given edge_index")


KCAL_PER_MOL_IN_EV = 0.0433641153087705  # 4.184 kJ/mol / 96.485332 kJ/mol per eV


def rmd17_frames(molecule_name: str = "ethanol", count: int = 5) -> Batch:
    root = shared_data_dir()
    path = None if root is None else root / "rmd17" / f"rmd17_{molecule_name}_train_01.npz"
    if path is None or not path.is_file():
        pytest.skip(f"real rMD17 data not found (looked for {path}; set EQUITOOLS_DATA to the shared data folder)")
    raw = np.load(path)
    z = torch.as_tensor(raw["nuclear_charges"].astype(np.int64))
    frames = []
    for k in range(count):
        frames.append(
            Data(
                z=z,
                pos=torch.as_tensor(raw["coords"][k], dtype=torch.float64),
                energy=torch.tensor([raw["energies"][k] * KCAL_PER_MOL_IN_EV]),
                forces=torch.as_tensor(raw["forces"][k] * KCAL_PER_MOL_IN_EV),
            )
        )
    return Batch.from_data_list(frames)


def test_tiny_model_overfits_five_rmd17_frames(model_name):
    name = model_name
    data = rmd17_frames()
    energy = data.energy.to(torch.float64)
    shift = float(energy.mean()) / data.z.numel() * data.num_graphs
    model = tiny(name, energy_shift=shift, **OVERFIT.get(name, {}))
    model.train()  # forces with create_graph: the force loss trains the weights
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-3)

    def loss_fn():
        out = model(data)
        return ((out["energy"] - energy) ** 2).mean() + ((out["forces"] - data.forces) ** 2).mean()

    # the reference: the loss of the best constant guess (mean energy, zero forces), so that a
    # large loss of the random initial model cannot make the test easier
    first = float(((energy - energy.mean()) ** 2).mean() + (data.forces**2).mean())
    assert float(loss_fn().detach()) >= 0.5 * first
    best = first
    for _ in range(600):
        optimiser.zero_grad()
        loss = loss_fn()
        loss.backward()
        optimiser.step()
        best = min(best, float(loss.detach()))
        if best < first / 100:
            break
    assert best < first / 100, f"{name}: loss went from {first:.3e} (constant guess) to {best:.3e} only"


def test_runs_under_torch_compile_with_same_numbers(model_name):
    """Inference under ``torch.compile``: graph capture by dynamo (+ AOT autograd for TensorNet);
    the benchmark checks the default inductor backend on the published sizes."""
    name = model_name
    torch._dynamo.reset()
    model = tiny(name).eval()
    data = batch_of(6, 4)
    expected = model(data)
    backend = "aot_eager" if name == "tensornet" else "eager"
    compiled = torch.compile(model, backend=backend, dynamic=False)
    out = compiled(data)
    assert_close(out["energy"], expected["energy"], rtol=1e-12, what="compiled energy")
    assert_close(out["forces"], expected["forces"], rtol=1e-12, what="compiled forces")
