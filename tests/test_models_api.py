"""equitools.models: build from a config, save/load as one file, errors, stress, reference energies."""

from __future__ import annotations

import inspect
import os
import warnings

import pytest
import torch
from torch_geometric.data import Batch, Data

from equitools import __version__
from equitools.models import MODEL_DEFAULTS, MODELS, Potential, build, default_config, load, save
from equitools.models.registry import resolve_config
from equitools.nn.escn import ESCN
from equitools.nn.freecg import FreeCG
from equitools.nn.tensornet import TensorNet
from equitools.testing import assert_close

TINY = {"model": "tensornet", "hidden_channels": 8, "num_layers": 1, "num_rbf": 8, "dtype": "float64"}


def water() -> Batch:
    pos = torch.tensor([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]], dtype=torch.float64)
    return Batch.from_data_list([Data(z=torch.tensor([8, 1, 1]), pos=pos)])


def test_models_and_published_defaults():
    assert set(MODELS) == {"tensornet", "escn", "freecg"}
    tensornet = default_config("tensornet")
    assert (tensornet["hidden_channels"], tensornet["num_layers"], tensornet["cutoff"]) == (128, 2, 4.5)  # rMD17
    freecg = default_config("freecg")
    assert (
        freecg["hidden_channels"],
        freecg["num_layers"],
        freecg["num_heads"],
        freecg["num_groups"],
        freecg["num_rbf"],
        freecg["cutoff"],
    ) == (256, 9, 8, 32, 32, 5.0)
    escn = default_config("escn")
    assert (escn["lmax"], escn["mmax"], escn["num_rbf"], escn["cutoff"]) == (6, 2, 400, 8.0)


@pytest.mark.parametrize("name, representation", [("tensornet", TensorNet), ("escn", ESCN), ("freecg", FreeCG)])
def test_the_registry_is_the_one_place_of_defaults(name, representation):
    """A representation takes every key of its config as a required keyword: no second default."""
    parameters = inspect.signature(representation).parameters.values()
    assert {p.name for p in parameters} == {*MODEL_DEFAULTS[name], "max_z"}
    assert all(p.kind is p.KEYWORD_ONLY and p.default is p.empty for p in parameters)


def test_build_published_tensornet_and_call_it():
    torch.manual_seed(0)
    model = build({"model": "tensornet"})
    assert isinstance(model, Potential)
    assert next(model.parameters()).dtype == torch.float32
    n = sum(p.numel() for p in model.parameters())
    assert 5e5 < n < 1.5e6, n  # the paper's 2-layer rMD17 model has ~0.8 M
    out = model(Batch.from_data_list([Data(z=torch.tensor([8, 1, 1]), pos=water().pos.float())]))
    assert out["energy"].shape == (1,) and out["forces"].shape == (3, 3)


@pytest.mark.parametrize(
    "config, message",
    [
        ({"hidden_channels": 8}, "no 'model' key"),
        ({"model": "painn"}, "unknown model 'painn'"),
        ({"model": "tensornet", "hiden_channels": 8}, "hiden_channels"),
        ({"model": "escn", "num_heads": 8}, "num_heads"),
        ({"model": "tensornet", "dtype": "float16"}, "dtype"),
    ],
)
def test_build_errors_name_the_key(config, message):
    with pytest.raises(ValueError, match=message) as err:
        build(config)
    if "model" in config and config["model"] in MODEL_DEFAULTS:
        assert "valid keys" in str(err.value) or "dtype" in str(err.value)


def test_unknown_key_error_lists_valid_keys():
    with pytest.raises(ValueError) as err:
        build({"model": "tensornet", "nope": 1})
    assert "'nope'" in str(err.value) and "hidden_channels" in str(err.value)


def test_old_key_names_are_read_silently():
    """eSCN's num_basis is now num_rbf; FreeCG's lmax (only ever 2) is gone. Old configs still resolve,
    to the new names, without a warning; contradictions and other lmax values are errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        escn = resolve_config({"model": "escn", "num_basis": 16})
        freecg = resolve_config({"model": "freecg", "lmax": 2})
    assert escn["num_rbf"] == 16 and "num_basis" not in escn
    assert "lmax" not in freecg and freecg == default_config("freecg")
    with pytest.raises(ValueError, match="both 'num_basis' and 'num_rbf'"):
        resolve_config({"model": "escn", "num_basis": 16, "num_rbf": 16})
    with pytest.raises(ValueError, match=r"lmax must be 2 \(FreeCG's spherical features are l = 1, 2.*got 3"):
        resolve_config({"model": "freecg", "lmax": 3})
    with pytest.raises(ValueError, match="num_rbf must be >= 2"):
        resolve_config({"model": "escn", "num_basis": 1})
    with pytest.raises(ValueError, match="unknown config key.*'num_basis'"):  # only eSCN had that name
        resolve_config({"model": "tensornet", "num_basis": 16})


@pytest.mark.parametrize(
    "name, old, new",
    [
        ("escn", {"num_basis": 6}, {"num_rbf": 6}),
        ("freecg", {"lmax": 2}, {}),
    ],
)
def test_a_model_file_with_old_key_names_loads(tmp_path, name, old, new):
    small = {
        "escn": {"sphere_channels": 4, "hidden_channels": 4, "edge_channels": 4, "num_layers": 1, "lmax": 2},
        "freecg": {"hidden_channels": 8, "num_layers": 1, "num_heads": 2, "num_groups": 2, "num_rbf": 6},
    }
    torch.manual_seed(4)
    model = build({"model": name, **small[name], **new, "dtype": "float64"})
    path = save(model, tmp_path / "model.pt")
    payload = torch.load(path, weights_only=True)  # as written before the rename
    payload["config"] = {**{k: v for k, v in payload["config"].items() if k not in new}, **old}
    torch.save(payload, path)
    loaded = load(path)
    assert loaded.config == model.config
    assert_close(loaded(water())["energy"], model(water())["energy"], rtol=0, atol=0, what="energy after load")


def test_save_load_roundtrip(tmp_path):
    torch.manual_seed(1)
    model = build({**TINY, "atomic_energies": {1: -13.6, 8: -2041.0}, "energy_scale": 2.0, "energy_shift": 0.5})
    path = save(model, tmp_path / "sub" / "model.pt")
    assert path.is_file() and [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temp file left
    loaded = load(path)
    assert loaded.config == model.config and loaded.model_name == "tensornet"
    a, b = model(water()), loaded(water())
    assert_close(b["energy"], a["energy"], rtol=0, atol=0, what="energy after load")
    assert_close(b["forces"], a["forces"], rtol=0, atol=0, what="forces after load")
    payload = torch.load(path, weights_only=True)
    assert payload["equitools_version"] == __version__ and payload["config"]["model"] == "tensornet"


def test_save_is_atomic(tmp_path, monkeypatch):
    model = build(TINY)
    path = save(model, tmp_path / "model.pt")
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        save(build({**TINY, "hidden_channels": 4}), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.pt"]


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="corrupt.pt.*corrupt or not a torch checkpoint"):
        load(corrupt)
    truncated = tmp_path / "truncated.pt"
    good = save(build(TINY), tmp_path / "good.pt").read_bytes()
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="truncated.pt"):
        load(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}, "hyper_parameters": {}}, foreign)  # e.g. another library's checkpoint
    with pytest.raises(ValueError, match="foreign.pt: not an equitools potential"):
        load(foreign)
    with pytest.raises(ValueError, match="holds a 'tensornet' model, not 'escn'"):
        load(tmp_path / "good.pt", model="escn")
    mismatched = torch.load(tmp_path / "good.pt", weights_only=True)
    mismatched["config"]["hidden_channels"] = 4
    torch.save(mismatched, tmp_path / "mismatched.pt")
    with pytest.raises(ValueError, match="mismatched.pt: weights do not fit"):
        load(tmp_path / "mismatched.pt")


def test_reference_energies_and_scale():
    torch.manual_seed(2)
    plain = build(TINY)
    shifted = build({**TINY, "atomic_energies": [0.0, -13.6, 0, 0, 0, 0, 0, 0, -2041.0]})
    shifted.load_state_dict(plain.state_dict(), strict=False)
    shifted.atomic_energies.copy_(torch.zeros_like(shifted.atomic_energies))
    shifted.atomic_energies[1], shifted.atomic_energies[8] = -13.6, -2041.0
    a, b = plain(water()), shifted(water())
    assert_close(b["energy"], a["energy"] - 2041.0 - 2 * 13.6, rtol=1e-14, what="reference energies add per atom")
    assert_close(b["forces"], a["forces"], rtol=0, atol=0, what="reference energies leave forces")
    with pytest.raises(ValueError, match="element 200"):
        build({**TINY, "atomic_energies": {200: 1.0}})


def test_input_errors():
    model = build(TINY)
    with pytest.raises(ValueError, match="max_z"):
        model(Batch.from_data_list([Data(z=torch.tensor([150]), pos=torch.zeros(1, 3, dtype=torch.float64))]))
    with pytest.raises(ValueError, match="stress needs a cell"):
        model(water(), compute_stress=True)


def test_stress_is_the_virial_over_volume():
    torch.manual_seed(3)
    model = build(TINY)
    data = water()
    data.cell = (torch.eye(3, dtype=torch.float64) * 10.0).unsqueeze(0)
    out = model(data, compute_stress=True)
    # non-periodic: dE/dε = -Σ_i r_i ⊗ F_i (symmetrised)
    virial = -torch.einsum("ni,nj->ij", data.pos, out["forces"])
    expected = 0.5 * (virial + virial.T) / 1000.0
    assert out["stress"].shape == (1, 3, 3)
    assert_close(out["stress"][0], expected, rtol=1e-10, atol=1e-14, what="stress")


def test_training_mode_keeps_graph_for_force_loss():
    model = build(TINY)
    model.train()
    out = model(water())
    assert out["forces"].requires_grad
    out["forces"].pow(2).sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    model.eval()
    assert not model(water())["forces"].requires_grad


def test_dtype_is_explicit_and_the_global_default_is_left_alone():
    previous = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)  # a user's global setting must not leak into the model
        model = build({"model": "tensornet", "hidden_channels": 8, "num_layers": 1, "num_rbf": 8})
        assert {p.dtype for p in model.parameters()} == {torch.float32}
        assert model.representation.rbf.means.dtype == torch.float32
        torch.set_default_dtype(torch.float32)
        model = build({"model": "tensornet", "hidden_channels": 8, "num_layers": 1, "num_rbf": 8}, dtype=torch.float64)
        assert {p.dtype for p in model.parameters()} == {torch.float64} and model.config["dtype"] == "float64"
        assert torch.get_default_dtype() == torch.float32
    finally:
        torch.set_default_dtype(previous)
    with pytest.raises(ValueError, match="dtype must be torch.float32 or torch.float64"):
        build({"model": "tensornet"}, dtype=torch.float16)
