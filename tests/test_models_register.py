"""A representation of your own as one more ``"model"``: built, trained by ``equitools.train``,
saved and loaded, with the same errors as the built-in ones."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch_geometric.loader import DataLoader

from equitools.data import embedded
from equitools.models import MODEL_DEFAULTS, MODELS, Potential, build, load, register_model, save
from equitools.models.registry import DOCS, ConfigValueError
from equitools.nn import ElementEmbedding, radial_basis, scatter_sum
from equitools.testing import check_forces_are_gradient, check_potential_symmetries
from equitools.train import resolve_config, train


class PairSum(nn.Module):
    """h_i = e(z_i) + Σ_j MLP(rbf(r_ij)) ⊙ e(z_j): a small invariant representation."""

    def __init__(self, channels: int, num_rbf: int, cutoff: float, max_z: int):
        super().__init__()
        self.cutoff, self.num_features = cutoff, channels
        self.embed = ElementEmbedding(channels, max_z)
        self.rbf = radial_basis("bessel", num_rbf, cutoff)
        self.filter = nn.Linear(num_rbf, channels)

    def forward(self, z, graph):
        j, i = graph.edge_index
        h = self.embed(z)
        message = self.filter(self.rbf(graph.length)) * h[j]
        return h + scatter_sum(message, i, dim_size=len(z))


DEFAULTS = {"channels": 8, "num_rbf": 6, "cutoff": 4.0}


@pytest.fixture
def pair_sum():
    register_model("pair-sum", PairSum, DEFAULTS, docs={"channels": "feature channels"})
    yield "pair-sum"
    for table in (MODEL_DEFAULTS, DOCS):
        table.pop("pair-sum", None)
    from equitools.models.registry import _BUILDERS

    _BUILDERS.pop("pair-sum", None)


def test_a_registered_model_builds_with_its_defaults_and_overrides(pair_sum):
    model = build({"model": pair_sum, "channels": 5}, dtype=torch.float64)
    assert isinstance(model.representation, PairSum) and model.representation.num_features == 5
    assert model.config["num_rbf"] == 6 and model.config["model"] == pair_sum
    batch = next(iter(DataLoader(embedded(), batch_size=2)))
    batch.pos = batch.pos.double()
    errors = check_potential_symmetries(model, batch, rtol=1e-10)
    assert max(errors.values()) < 1e-10
    assert check_forces_are_gradient(model, batch) < 1e-6
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['lmax'\]"):
        build({"model": pair_sum, "lmax": 2})
    with pytest.raises(ConfigValueError, match="cutoff"):
        build({"model": pair_sum, "cutoff": -1.0})  # the shared ranges apply to its keys too


def test_a_registered_model_saves_and_loads_only_while_registered(pair_sum, tmp_path):
    model = build({"model": pair_sum})
    batch = next(iter(DataLoader(embedded(), batch_size=2)))
    path = save(model, tmp_path / "model.pt")
    assert torch.equal(load(path)(batch)["energy"], model(batch)["energy"])
    from equitools.models.registry import _BUILDERS

    MODEL_DEFAULTS.pop(pair_sum), _BUILDERS.pop(pair_sum)
    with pytest.raises(ValueError, match="unknown model 'pair-sum'"):
        load(path)


def test_equitools_train_trains_a_registered_model(pair_sum, tmp_path):
    config = resolve_config(
        {
            "model": {"model": pair_sum, "channels": 4},
            "data": {"format": "embedded", "n_train": 40, "n_val": 10, "n_test": 20, "batch_size": 10},
            "training": {"max_epochs": 2, "lr": 5e-3},
            "trainer": {"progress_bar": False, "accelerator": "cpu", "num_threads": 1},
            "output": {"dir": str(tmp_path)},
        }
    )
    metrics = train(config, plots=False)
    model = load(tmp_path)
    assert isinstance(model.representation, PairSum) and model.representation.num_features == 4
    assert metrics["test"]["forces_mae"] > 0  # a real test pass of the exported model


def test_registration_errors():
    with pytest.raises(ValueError, match="built-in"):
        register_model("tensornet", PairSum, DEFAULTS)
    with pytest.raises(ValueError, match="repeat keys every model has: \\['max_z'\\]"):
        register_model("pair-sum", PairSum, {**DEFAULTS, "max_z": 10})
    with pytest.raises(TypeError, match="callable"):
        register_model("pair-sum", "PairSum", DEFAULTS)
    with pytest.raises(ValueError, match="non-empty string"):
        register_model("", PairSum, DEFAULTS)
    assert "pair-sum" not in MODEL_DEFAULTS and MODELS == ("tensornet", "escn", "freecg")


def test_a_hand_made_potential_needs_no_config():
    model = Potential(PairSum(4, 4, 4.0, max_z=10), max_z=10)
    assert model.config == {"model": "PairSum"}
    batch = next(iter(DataLoader(embedded(), batch_size=1)))
    assert model(batch)["forces"].shape == batch.pos.shape
