"""Potential readouts: float64 energy sums with reference energies, the "mean" and "dipole"
readouts (symmetries, neutral charges), and their config checks."""

from __future__ import annotations

import pytest
import torch
from test_models_potentials import TINY, batch_of

from equitools.models import build, load, save
from equitools.testing import assert_close, random_orthogonal, random_rotation
from equitools.train import ConfigError, resolve_config

REFERENCES = {1: -13.587, 6: -1029.863, 7: -1485.304, 8: -2042.611}  # eV, the size of real ones


def tensornet(dtype: str = "float64", **extra):
    torch.manual_seed(0)
    return build({"model": "tensornet", **TINY["tensornet"], "dtype": dtype, **extra})


def test_energies_are_summed_in_float64_around_large_reference_energies():
    data = batch_of(21, 21, 9)
    with_refs, without = tensornet("float32", atomic_energies=REFERENCES), tensornet("float32")
    data.pos = data.pos.float()
    e_with, e_without = with_refs(data)["energy"], without(data)["energy"]
    assert e_with.dtype == torch.float64
    total = torch.tensor([REFERENCES[int(k)] for k in data.z], dtype=torch.float64)
    expected = torch.zeros(3, dtype=torch.float64).index_add(0, data.batch, total)
    # float32 sums would be off by ~1e-3 eV at -2e4 eV
    assert_close(e_with - e_without, expected, rtol=0, atol=1e-9, what="reference part of the energy")


def test_reference_energies_stay_float64_through_dtype_moves_and_files(tmp_path):
    model = tensornet("float32", atomic_energies=REFERENCES).double().float().to(torch.float32)
    assert model.atomic_energies.dtype == torch.float64
    assert float(model.atomic_energies[6]) == REFERENCES[6]
    assert next(model.parameters()).dtype == torch.float32
    save(model, tmp_path / "model.pt")
    loaded = load(tmp_path / "model.pt")
    assert loaded.atomic_energies.dtype == torch.float64 and float(loaded.atomic_energies[8]) == REFERENCES[8]


def test_mean_readout_is_the_sum_over_the_number_of_atoms():
    data = batch_of(5, 8, 3)
    total = tensornet()(data, compute_forces=False)["energy"]
    mean = tensornet(readout="mean")(data, compute_forces=False)["energy"]
    assert_close(mean, total / torch.tensor([5.0, 8.0, 3.0], dtype=torch.float64), rtol=1e-12, what="mean readout")


def test_dipole_readout_is_invariant_and_its_vector_equivariant():
    torch.manual_seed(3)
    model = tensornet(readout="dipole")
    data = batch_of(6, 9)
    out = model(data, compute_forces=False)
    assert set(out) >= {"energy", "dipole", "charges"}
    charge = torch.zeros(2, dtype=torch.float64).index_add(0, data.batch, out["charges"])
    assert_close(charge, torch.zeros(2, dtype=torch.float64), rtol=0, atol=1e-12, what="net charge")
    assert_close(out["energy"], out["dipole"].norm(dim=-1), rtol=1e-10, what="|mu|")
    assert float(out["energy"].min()) > 1e-4  # a nonzero dipole, so the checks below can fail
    for Q in (random_rotation(1), random_orthogonal(2)):
        Q = torch.as_tensor(Q)
        moved = data.clone()
        moved.pos = data.pos @ Q.T + torch.tensor([3.0, -1.0, 2.0], dtype=torch.float64)  # and a translation
        turned = model(moved, compute_forces=False)
        assert_close(turned["energy"], out["energy"], rtol=1e-10, what="|mu| invariant")
        assert_close(turned["dipole"], out["dipole"] @ Q.T, rtol=1e-10, atol=1e-12, what="mu equivariant")
    permuted = data.clone()
    order = torch.cat([torch.randperm(6), 6 + torch.randperm(9)])
    permuted.z, permuted.pos = data.z[order], data.pos[order]
    assert_close(model(permuted, compute_forces=False)["energy"], out["energy"], rtol=1e-10, what="permutation")


def test_readout_config_errors():
    with pytest.raises(ValueError, match="readout must be one of"):
        tensornet(readout="max")
    with pytest.raises(ValueError, match="need the 'sum' readout"):
        tensornet(readout="dipole", atomic_energies={1: -13.6})
    config = {
        "model": {"model": "tensornet", "readout": "dipole"},
        "data": {"format": "qm9", "target": "mu"},
        "training": {"reference_energies": "fit", "force_weight": 0.0},
    }
    with pytest.raises(ConfigError, match="reference_energies 'none'"):
        resolve_config(config)
    config["training"]["reference_energies"] = "none"
    assert resolve_config(config)["model"]["readout"] == "dipole"
