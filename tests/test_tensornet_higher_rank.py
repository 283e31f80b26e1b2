"""TensorNet with irreducible Cartesian tensors of ranks 0…max_rank (``max_rank: 3``): symmetries
in float64 and float32, forces = -dE/dpos, batching, save/load, the config key, the edge tensors;
``max_rank: 2`` stays the paper's model (``tests/test_models_reference.py`` holds its numbers)."""

from __future__ import annotations

import math

import pytest
import torch
from torch_geometric.data import Batch

from equitools.models import build, load, save
from equitools.models.registry import ConfigValueError
from equitools.nn.cartesian_product import ict_rows
from equitools.nn.tensornet import CompactTensors, PartTensors
from equitools.nn.tensornet_ict import ICTTensors, edge_norm
from equitools.testing import (
    assert_close,
    check_batch_equals_one_by_one,
    check_forces_are_gradient,
    check_isolated_atom,
    check_potential_symmetries,
    random_molecule,
)

TINY = {"model": "tensornet", "max_rank": 3, "hidden_channels": 8, "num_layers": 2, "num_rbf": 8, "cutoff": 4.0}
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-4}


def tiny(**extra) -> torch.nn.Module:
    torch.manual_seed(0)
    return build({**TINY, "dtype": "float64", **extra})


@pytest.mark.parametrize("dtype", list(TOLERANCE), ids=str)
@pytest.mark.parametrize("group", ["O(3)", "SO(3)"])
def test_energy_invariant_and_forces_equivariant(group, dtype):
    model = tiny(equivariance_group=group).to(dtype)
    batch = Batch.from_data_list([random_molecule(7, seed=1), random_molecule(5, seed=2)])
    batch.pos = batch.pos.to(dtype)
    errors = check_potential_symmetries(model, batch, reflections=group == "O(3)", rtol=TOLERANCE[dtype])
    assert {"rotation0 energy", "rotation0 forces"} <= set(errors)


def test_the_so3_variant_is_not_reflection_invariant():
    """Its odd (cross-product-like) paths mix the grades; O(3)'s keep them apart."""
    batch = Batch.from_data_list([random_molecule(6, seed=3)])
    mirrored = batch.clone()
    mirrored.pos = batch.pos * torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)
    for group, invariant in (("O(3)", True), ("SO(3)", False)):
        model = tiny(equivariance_group=group)
        e, e_mirrored = model(batch)["energy"], model(mirrored)["energy"]
        assert bool(torch.allclose(e, e_mirrored, rtol=1e-10, atol=1e-12)) is invariant, group


def test_forces_are_minus_the_energy_gradient():
    model = tiny()
    check_forces_are_gradient(model, Batch.from_data_list([random_molecule(6, seed=4)]), eps=1e-5, atoms=3, rtol=1e-7)


def test_batch_equals_one_by_one():
    model = tiny()
    molecules = [random_molecule(8, seed=5), random_molecule(3, seed=6)]
    check_batch_equals_one_by_one(model, molecules)


def test_isolated_atom_is_finite_with_zero_force():
    check_isolated_atom(tiny(), random_molecule(4, seed=7))


def test_save_and_load_give_the_same_model(tmp_path):
    model = tiny()
    batch = Batch.from_data_list([random_molecule(6, seed=8)])
    path = save(model, tmp_path / "rank3.pt")
    loaded = load(path, model="tensornet")
    assert loaded.config["max_rank"] == 3 and loaded.representation.max_rank == 3
    before, after = model(batch), loaded(batch)
    assert_close(after["energy"], before["energy"], rtol=1e-14, what="energy after load")
    assert_close(after["forces"], before["forces"], rtol=1e-14, what="forces after load")


@pytest.mark.parametrize("value", [1, 5, "x", 3.0, True])
def test_build_rejects_a_bad_max_rank_naming_the_key(value):
    with pytest.raises(ConfigValueError, match="max_rank") as error:
        build({"model": "tensornet", "max_rank": value})
    assert error.value.key == "max_rank"


def test_max_rank_2_is_the_papers_model():
    model = build({"model": "tensornet", "hidden_channels": 4, "num_layers": 1, "num_rbf": 4})
    assert model.config["max_rank"] == 2
    algebra = [m for m in model.modules() if isinstance(m, PartTensors)]
    assert len(algebra) == 3 and all(type(m) is CompactTensors for m in algebra)
    wider = build({"model": "tensornet", "hidden_channels": 4, "num_layers": 1, "num_rbf": 4, "max_rank": 4})
    assert wider.representation.ops.sizes == (1, 3, 5, 7, 9)
    assert wider.representation.layers[0].linears_in.linear_4.weight.shape == (4, 4)


def test_edge_tensors_are_the_unit_traceless_parts_of_the_powers_of_r():
    ops = ICTTensors(3).double()
    r = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    r = r / r.norm(dim=1, keepdim=True)
    parts = ops.edge_tensors(r).split(ops.sizes, dim=1)
    eye = torch.eye(3, dtype=torch.float64)
    rr = r[:, :, None] * r[:, None, :]
    rrr = rr[..., None] * r[:, None, None, :]
    delta_r = eye[:, :, None] * r[:, None, None, :]  # δ_ij r_k
    # the traceless parts of r⊗…⊗r by the classical formulas
    trace_terms = delta_r + delta_r.permute(0, 3, 1, 2) + delta_r.permute(0, 2, 3, 1)  # δ_ij r_k + δ_jk r_i + δ_ki r_j
    traceless = [
        torch.ones(6, 1, dtype=torch.float64),
        r,
        (rr - eye / 3).reshape(6, 9),
        (rrr - trace_terms / 5).reshape(6, 27),
    ]
    for rank, (part, expected) in enumerate(zip(parts, traceless)):
        assert_close(part.norm(dim=1), torch.ones(6), rtol=1e-14, what=f"unit norm, rank {rank}")
        cartesian = part @ torch.tensor(ict_rows(rank)) * edge_norm(rank)
        assert_close(cartesian, expected, atol=1e-14, what=f"traceless part of r^{rank}")
        assert math.isclose(float(expected[0].norm()), edge_norm(rank), rel_tol=1e-13)
