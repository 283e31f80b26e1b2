"""The training engine on the embedded ethanol set: a tiny run end to end, reference energies,
warm-up, EMA export, atomic checkpoints, and resuming a killed run."""

from __future__ import annotations

import csv
import json
import math
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from equitools.models import load
from equitools.paths import shared_data_dir
from equitools.train import (
    ConfigError,
    evaluate,
    export_checkpoint,
    fit_reference_energies,
    load_datasets,
    read_checkpoint,
    readout_scale,
    resolve_config,
    train,
)
from equitools.train.io import AtomicCheckpointIO
from equitools.train.plots import read_epoch_metrics


def tiny_config(out, **sections) -> dict:
    """A seconds-long run: 4-channel TensorNet, 40/10/20 frames of the embedded ethanol set."""
    config = {
        "model": {"model": "tensornet", "hidden_channels": 4, "num_layers": 1, "num_rbf": 4, "cutoff": 4.0},
        "data": {"format": "embedded", "n_train": 40, "n_val": 10, "n_test": 20, "batch_size": 10},
        "training": {"max_epochs": 2, "lr": 5e-3, "lr_warmup_steps": 100, "ema_decay": 0.9},
        "trainer": {"progress_bar": False, "accelerator": "cpu", "log_every_n_steps": 1, "num_threads": 1},
        "output": {"dir": str(out)},
    }
    for section, values in sections.items():
        config[section].update(values)
    return resolve_config(config)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = tiny_config(out)
    return out, config, train(config)


def test_run_writes_model_logs_and_metrics(run):
    out, config, metrics = run
    for name in (
        "model.pt",
        "metrics.json",
        "config.yaml",
        "learning_curves.png",
        "checkpoints/last.ckpt",
        "logs/csv/version_0/metrics.csv",
    ):
        assert (out / name).is_file(), name
    assert list((out / "logs" / "tensorboard").glob("events.out.tfevents.*"))
    assert json.loads((out / "metrics.json").read_text())["epochs"] == metrics["epochs"] == 2
    best_epoch = 1 + int(np.nanargmin(read_epoch_metrics(out / "logs" / "csv")["val_loss"][:2]))  # counted from 1
    assert os.path.basename(metrics["best_checkpoint"]) == f"best-epoch={best_epoch:04d}.ckpt"
    assert metrics["data"]["sizes"] == {"train": 40, "val": 10, "test": 20}
    for key in ("energy_mae", "energy_rmse", "forces_mae", "forces_rmse"):
        assert math.isfinite(metrics["test"][key]) and metrics["test"][key] > 0
    assert metrics["test"]["energy_rmse"] >= metrics["test"]["energy_mae"]
    assert not list(out.rglob("*.tmp")), "temporary files left behind"


def test_exported_model_reproduces_the_test_metrics(run):
    out, config, metrics = run
    model = load(out / "model.pt")
    splits, _ = load_datasets(config["data"], torch.float32)
    again = evaluate(model, splits["test"])
    assert again["forces_mae"] == pytest.approx(metrics["test"]["forces_mae"], rel=1e-4)
    # total energies of ~ -4,200 eV in float32: agreement to a fraction of a meV
    assert again["energy_mae"] == pytest.approx(metrics["test"]["energy_mae"], abs=0.5)


def test_export_of_a_training_checkpoint(run, tmp_path):
    out, config, metrics = run
    path = export_checkpoint(metrics["best_checkpoint"], tmp_path / "again.pt")
    again, exported = load(path).state_dict(), load(out / "model.pt").state_dict()
    assert again.keys() == exported.keys() and all(torch.equal(again[k], exported[k]) for k in again)
    with pytest.raises(ValueError, match="expected a Lightning training checkpoint"):
        export_checkpoint(out / "model.pt", tmp_path / "x.pt")


def test_exported_weights_are_the_ema_weights(run):
    out, config, metrics = run
    payload = read_checkpoint(metrics["best_checkpoint"])
    state = payload["state_dict"]
    exported = load(out / "model.pt").state_dict()
    key = (
        "readout.layers.0.weight"
        if "model.readout.layers.0.weight" in state
        else next(k.removeprefix("model.") for k in state if k.startswith("model.readout"))
    )
    assert torch.equal(exported[key], state[f"ema.module.{key}"])
    assert not torch.equal(state[f"ema.module.{key}"], state[f"model.{key}"])
    refs = payload["state_dict"]["references"]
    assert torch.allclose(exported["atomic_energies"][[1, 6, 8]].double(), refs[[1, 6, 8]], rtol=1e-6)


def test_learning_rate_warms_up_linearly(run):
    out, config, metrics = run
    with open(out / "logs" / "csv" / "version_0" / "metrics.csv", newline="") as handle:
        lrs = {int(r["step"]): float(r["lr-AdamW"]) for r in csv.DictReader(handle) if r["lr-AdamW"]}
    # logged at the start of epoch 1, after 4 optimiser steps (40 frames, batches of 10) of a 100-step warm-up
    assert lrs[4] == pytest.approx(5e-3 * 4 / 100, rel=1e-6)
    columns = read_epoch_metrics(out / "logs" / "csv")
    assert np.all(np.isfinite(columns["val_energy_mae"][:2]))  # epochs 0, 1 (a last row holds the test metrics)


def test_reference_energies_are_recovered_exactly():
    rng = np.random.default_rng(0)
    truth = {1: -13.6, 6: -1029.8, 8: -2041.5}
    frames = []
    for _ in range(30):
        z = torch.as_tensor(rng.choice([1, 6, 8], size=rng.integers(3, 9)))
        energy = sum(truth[int(a)] for a in z)
        frames.append(
            Data(
                z=z,
                pos=torch.zeros(len(z), 3),
                energy=torch.tensor([energy], dtype=torch.float64),
                forces=torch.full((len(z), 3), 0.5),
            )
        )
    refs = fit_reference_energies(frames, max_z=10)
    assert refs.shape == (11,)
    for z, e in truth.items():
        assert refs[z].item() == pytest.approx(e, abs=1e-8)
    assert refs[7].item() == 0.0
    scale, shift = readout_scale(frames, refs, use_forces=True)
    assert scale == pytest.approx(0.5) and shift == pytest.approx(0.0, abs=1e-9)


def test_atomic_checkpoint_write_leaves_nothing_on_failure(tmp_path):
    io = AtomicCheckpointIO()
    io.save_checkpoint({"a": torch.ones(2)}, tmp_path / "good.ckpt")
    assert torch.load(tmp_path / "good.ckpt")["a"].sum() == 2
    with pytest.raises((AttributeError, TypeError, pickle.PicklingError)):  # a lambda cannot be pickled
        io.save_checkpoint({"bad": lambda: None}, tmp_path / "bad.ckpt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.ckpt"]


KILLER = """
import os, signal, sys
import lightning.pytorch as pl
from equitools.train import resolve_config, train

class KillAtEpoch(pl.Callback):
    def on_train_epoch_start(self, trainer, module):
        if trainer.current_epoch == {kill_at}:
            os.kill(os.getpid(), signal.SIGKILL)

train(resolve_config({config!r}), callbacks=[KillAtEpoch()])
"""


def test_killed_run_resumes_without_losing_an_epoch(tmp_path):
    config = tiny_config(tmp_path / "run", training={"max_epochs": 4, "ema_decay": 0.9})
    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent(KILLER.format(kill_at=2, config=config)))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == -9, done.stderr[-2000:]
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert read_checkpoint(last)["epoch"] == 1  # epochs 0 and 1 finished and saved
    assert not (tmp_path / "run" / "model.pt").exists()
    with pytest.raises(FileExistsError, match="resume"):
        train(config)
    metrics = train(config, resume=True)
    assert metrics["epochs"] == 4
    columns = read_epoch_metrics(tmp_path / "run" / "logs" / "csv")
    assert list(columns["epoch"][:4]) == [0, 1, 2, 3]
    assert np.all(np.isfinite(columns["val_loss"][:4]))
    # resumed, not restarted: the step counter continued from epochs 0-1
    assert metrics["global_steps"] == 4 * 4
    best_epoch = 1 + int(np.nanargmin(columns["val_loss"][:4]))  # the best of both segments, counted from 1
    assert os.path.basename(metrics["best_checkpoint"]) == f"best-epoch={best_epoch:04d}.ckpt"
    best = sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("best-*"))
    assert best == [f"best-epoch={best_epoch:04d}.ckpt"]  # the first segment's best is replaced or kept, once


def test_resume_with_another_model_is_refused(run, tmp_path):
    out, config, metrics = run
    other = resolve_config(
        {
            **{k: v for k, v in config.items() if k != "model"},
            "model": {**config["model"], "hidden_channels": 6},
            "output": {"dir": str(tmp_path)},
        }
    )
    with pytest.raises(ValueError, match="hidden_channels: 4 in the checkpoint, 6 in the config"):
        train(other, resume=str(out / "checkpoints" / "last.ckpt"))


def test_forces_asked_of_data_without_forces(tmp_path):
    if shared_data_dir() is None:
        pytest.skip("needs the shared QM9 sample (set EQUITOOLS_DATA)")
    config = tiny_config(tmp_path, data={"format": "qm9", "target": "homo"})
    with pytest.raises(ValueError, match="no forces; set training.force_weight=0"):
        train(config)


def test_qm9_target_energy_only(tmp_path):
    if shared_data_dir() is None:
        pytest.skip("needs the shared QM9 sample (set EQUITOOLS_DATA)")
    config = tiny_config(
        tmp_path,
        data={"format": "qm9", "target": "gap", "n_train": 30, "n_val": 10, "n_test": 10},
        training={"max_epochs": 1, "force_weight": 0.0, "energy_weight": 1.0, "reference_energies": "none"},
    )
    metrics = train(config, plots=False)
    assert set(metrics["test"]) == {"loss", "energy_mae", "energy_rmse"}
    assert metrics["units"]["energy"] == "meV" and metrics["data"]["target"] == "gap"
    # an untrained model is far worse than 1 meV and better than 100 eV on a ~7 eV gap
    assert 1 < metrics["test"]["energy_mae"] < 1e5


def test_bad_values_are_named():
    with pytest.raises(ConfigError, match="training.force_weight must be a finite number >= 0"):
        resolve_config({"training": {"force_weight": -1}})
    with pytest.raises(ConfigError, match="training.lr must be a finite number > 0, got 'fast'"):
        resolve_config({"training": {"lr": "fast"}})


def test_float64_training_and_export(tmp_path):
    config = tiny_config(tmp_path, model={"dtype": "float64"}, training={"max_epochs": 1, "ema_decay": None})
    metrics = train(config, plots=False)
    model = load(tmp_path / "model.pt")
    assert next(model.parameters()).dtype == torch.float64
    splits, _ = load_datasets(config["data"], torch.float64)
    again = evaluate(model, splits["test"])
    # in float64 the exported model (reference energies folded in) matches the training metrics exactly
    assert again["energy_mae"] == pytest.approx(metrics["test"]["energy_mae"], rel=1e-6)
    assert again["forces_mae"] == pytest.approx(metrics["test"]["forces_mae"], rel=1e-6)
