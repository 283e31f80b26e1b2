"""Training hardening: a diverging run stops with a named step and exports nothing; every config
number is type- and range-checked with the file, section and key named; unreadable configs and
unwritable output folders are one-line errors; a resumed run repeats the uninterrupted one."""

from __future__ import annotations

import math
import re
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
import yaml

from equitools.cli import main
from equitools.models import MODELS, build, default_config, save
from equitools.models.registry import NUMBERS as MODEL_NUMBERS
from equitools.models.registry import check_values
from equitools.paths import EMBEDDED_DATA
from equitools.train import (
    ConfigError,
    ForceFieldModule,
    TrainingDivergedError,
    load_config,
    load_datasets,
    read_checkpoint,
    resolve_config,
    train,
)
from equitools.train.config import NUMBERS, SCHEMA
from equitools.train.data import training_sampler
from equitools.train.plots import read_epoch_metrics

DATA = EMBEDDED_DATA / "ethanol_xtb_500K.npz"
TINY = {
    "model": {"model": "tensornet", "hidden_channels": 8, "num_layers": 1, "num_rbf": 8, "cutoff": 4.0},
    "data": {"format": "embedded", "n_train": 16, "n_val": 8, "n_test": 8, "batch_size": 4},
    "training": {"max_epochs": 2, "lr_warmup_steps": 2, "ema_decay": 0.9},
    "trainer": {"progress_bar": False, "accelerator": "cpu", "log_every_n_steps": 1, "num_threads": 1},
}


def tiny(out, **sections) -> dict:
    """A resolved seconds-long config writing to ``out`` (16/8/8 frames, 4 steps per epoch)."""
    config = {name: {**values, **sections.get(name, {})} for name, values in TINY.items()}
    return resolve_config({**config, "output": {"dir": str(out)}})


def write_yaml(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


class Poison(pl.Callback):
    """Make one training batch's energies NaN (at ``epoch``, ``batch``), or one gradient inf."""

    def __init__(self, epoch: int, batch: int = 0, gradient: bool = False):
        self.epoch, self.batch, self.gradient = epoch, batch, gradient

    def _now(self, trainer, batch_idx: int) -> bool:
        return trainer.current_epoch == self.epoch and batch_idx == self.batch

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.batch_idx = batch_idx
        if self._now(trainer, batch_idx) and not self.gradient:
            batch.energy = torch.full_like(batch.energy, math.nan)

    def on_after_backward(self, trainer, module):
        if self._now(trainer, self.batch_idx) and self.gradient:
            next(module.model.parameters()).grad[0] = math.inf


# --- A. non-finite training ---------------------------------------------------------------------


def test_diverging_lr_fails_the_command_and_exports_nothing(tmp_path, capsys):
    config = write_yaml(tmp_path / "diverge.yaml", {**TINY, "output": {"dir": str(tmp_path / "run")}})
    assert main(["train", str(config), "training.lr=1e6", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert re.search(
        r"^equitools train: error: training diverged in epoch \d+, step \d+: the (loss|gradient)", err, re.MULTILINE
    ), err
    assert "lower training.lr" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "model.pt").exists() and not (tmp_path / "run" / "metrics.json").exists()


def test_nan_data_mid_run_names_epoch_and_step_and_keeps_earlier_checkpoints(tmp_path):
    with pytest.raises(TrainingDivergedError, match=r"in epoch 2, step 6: the loss is nan"):
        train(tiny(tmp_path), callbacks=[Poison(epoch=1, batch=1)], plots=False)
    assert read_checkpoint(tmp_path / "checkpoints" / "last.ckpt")["epoch"] == 0  # epoch 0 is kept
    assert not (tmp_path / "model.pt").exists()


def test_non_finite_gradient_names_the_parameter(tmp_path):
    config = tiny(tmp_path, training={"max_epochs": 1})
    name = next(n for n, _ in build(config["model"]).named_parameters())
    with pytest.raises(TrainingDivergedError, match=rf"in epoch 1, step 3: the gradient of {name} is not finite"):
        train(config, callbacks=[Poison(epoch=0, batch=2, gradient=True)], plots=False)


def test_non_finite_validation_loss_stops_the_run(tmp_path):
    class PoisonValidation(pl.Callback):
        def on_validation_batch_start(self, trainer, module, batch, batch_idx, dataloader_idx=0):
            if not trainer.sanity_checking:
                batch.energy = torch.full_like(batch.energy, math.nan)

    with pytest.raises(TrainingDivergedError, match="in epoch 1: the validation loss is nan"):
        train(tiny(tmp_path), callbacks=[PoisonValidation()], plots=False)
    assert not (tmp_path / "model.pt").exists()


def test_export_refuses_non_finite_weights(tmp_path):
    config = tiny(tmp_path)
    module = ForceFieldModule(config["model"], config["training"], [0.0] * (config["model"]["max_z"] + 1))
    module.export()  # finite: fine
    with torch.no_grad():
        next(module.ema.module.parameters()).fill_(math.nan)
    with pytest.raises(TrainingDivergedError, match="not finite.*not exported"):
        module.export()


def test_evaluate_fails_on_a_nan_model(tmp_path, capsys):
    model = build(TINY["model"])
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(math.nan)
    save(model, tmp_path / "nan.pt")
    assert main(["evaluate", str(tmp_path / "nan.pt"), str(DATA), "--limit", "4", "-o", str(tmp_path / "ev")]) == 1
    err = capsys.readouterr().err
    assert "equitools evaluate: error:" in err and "energy_mae is nan" in err and "forces_mae is nan" in err
    assert not (tmp_path / "ev" / "metrics.json").exists()


# --- B. config values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config, message",
    [
        ({"model": "tensornet", "num_layers": 1.5}, "num_layers must be an integer >= 1, got 1.5"),
        ({"model": "tensornet", "hidden_channels": "eight"}, "hidden_channels must be an integer >= 1, got 'eight'"),
        ({"model": "tensornet", "hidden_channels": 0}, "hidden_channels must be an integer >= 1, got 0"),
        ({"model": "tensornet", "num_rbf": True}, "num_rbf must be an integer >= 1, got True"),
        ({"model": "tensornet", "cutoff": -5.0}, r"cutoff must be a finite number > 0, got -5.0"),
        ({"model": "tensornet", "cutoff": math.inf}, r"cutoff must be a finite number > 0, got inf"),
        ({"model": "tensornet", "energy_shift": math.nan}, r"energy_shift must be a finite number, got nan"),
        ({"model": "tensornet", "max_z": 0}, "max_z must be an integer >= 1, got 0"),
        ({"model": "tensornet", "rbf_type": "gaussian", "num_rbf": 1}, "num_rbf must be >= 2 with rbf_type 'gaussian'"),
        ({"model": "escn", "mmax": 3, "lmax": 2}, r"mmax must be <= lmax \(2\), got 3"),
        ({"model": "escn", "num_rbf": 1}, r"num_rbf must be >= 2 \(a Gaussian basis\), got 1"),
        ({"model": "escn", "lmax": -1}, "lmax must be an integer >= 0, got -1"),
        ({"model": "escn", "sphere_channels": 2.0}, "sphere_channels must be an integer >= 1, got 2.0"),
        ({"model": "freecg", "lmax": 3}, "lmax must be 2"),
        ({"model": "freecg", "hidden_channels": 12, "num_heads": 8}, r"num_heads must divide hidden_channels \(12\)"),
        (
            {"model": "freecg", "hidden_channels": 16, "num_heads": 4, "num_groups": 5},
            r"num_groups must divide hidden_channels \(16\), got 5",
        ),
    ],
)
def test_build_checks_every_model_number(config, message):
    with pytest.raises(ValueError, match=message):
        build(config)


def test_every_number_has_a_type_and_range_that_its_default_meets():
    for section, defaults in SCHEMA.items():
        numeric = {k for k, v in defaults.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        assert numeric <= set(NUMBERS.get(section, {})) <= set(defaults), section
        assert all(spec.problem(defaults[k]) is None for k, spec in NUMBERS.get(section, {}).items()), section
    for model in MODELS:
        defaults = default_config(model)
        numeric = {k for k, v in defaults.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        assert numeric <= set(MODEL_NUMBERS), model
        check_values(defaults)  # the published defaults pass


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("training", "max_epochs", -1, "training.max_epochs must be an integer >= 1, got -1"),
        ("training", "lr", -1e-3, r"training.lr must be a finite number > 0, got -0.001"),
        ("training", "lr", math.nan, r"training.lr must be a finite number > 0, got nan"),
        ("training", "lr_factor", 1.0, r"training.lr_factor must be a finite number in \(0, 1\), got 1.0"),
        ("training", "ema_decay", 1.0, r"training.ema_decay must be a finite number in \[0, 1\) or null, got 1.0"),
        ("training", "gradient_clip", 0, "training.gradient_clip must be a finite number > 0 or null, got 0"),
        ("training", "lr_patience", 2.5, "training.lr_patience must be an integer >= 0, got 2.5"),
        ("training", "seed", -1, "training.seed must be an integer in"),
        ("training", "max_time", 0, "training.max_time must be a finite number > 0 or null, got 0"),
        ("data", "n_test", 0, "data.n_test must be an integer >= 1 or null, got 0"),
        ("data", "batch_size", True, "data.batch_size must be an integer >= 1, got True"),
        ("data", "num_workers", -1, "data.num_workers must be an integer >= 0, got -1"),
        ("data", "min_distance", -0.1, "data.min_distance must be a finite number >= 0, got -0.1"),
        ("trainer", "devices", 0, "trainer.devices must be an integer >= 1, got 0"),
        ("trainer", "num_threads", 0, "trainer.num_threads must be an integer >= 1 or null, got 0"),
        ("trainer", "check_val_every_n_epoch", 0, "trainer.check_val_every_n_epoch must be an integer >= 1, got 0"),
        ("model", "num_layers", 1.5, "model.num_layers must be an integer >= 1, got 1.5"),
        ("model", "hidden_channels", "eight", "model.hidden_channels must be an integer >= 1, got 'eight'"),
        ("model", "cutoff", -1.0, r"model.cutoff must be a finite number > 0, got -1.0"),
    ],
)
def test_config_errors_name_file_section_and_key(tmp_path, section, key, value, message):
    config = {name: dict(values) for name, values in TINY.items()}
    config[section][key] = value
    path = write_yaml(tmp_path / "x.yaml", config)
    with pytest.raises(ConfigError, match=f"^{path}: {message}"):
        load_config(path)


def test_yaml_nan_and_text_numbers(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("training:\n  lr: .nan\n")
    with pytest.raises(ConfigError, match=r"x.yaml: training.lr must be a finite number > 0, got nan"):
        load_config(path)
    # YAML 1.1 reads 1e-4 as text: still a number; null switches the optional ones off
    path.write_text(
        "training:\n  lr: 1e-4\n  ema_decay: null\n  gradient_clip: null\nmodel:\n  model: tensornet\n  cutoff: 5e0\n"
    )
    config = load_config(path)
    assert config["training"]["lr"] == 1e-4 and config["model"]["cutoff"] == 5.0
    assert config["training"]["ema_decay"] is None and config["data"]["min_distance"] == 0.1
    with pytest.raises(ConfigError, match="x.yaml: training.max_epochs must be an integer >= 1, got -1"):
        load_config(path, ["training.max_epochs=-1"])


def test_min_distance_reaches_the_loader(tmp_path):
    with pytest.raises(ValueError, match=r"ethanol_xtb_500K.npz.*Å apart \(minimum 1.2 Å\)"):
        load_datasets(tiny(tmp_path, data={"min_distance": 1.2})["data"], torch.float32)
    splits, _ = load_datasets(tiny(tmp_path, data={"min_distance": 0.0})["data"], torch.float32)
    assert len(splits["train"]) == 16


# --- C. OS errors -------------------------------------------------------------------------------


def test_unreadable_config_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    (tmp_path / "dir.yaml").mkdir()
    assert main(["train", str(tmp_path / "dir.yaml")]) == 1
    assert (
        f"equitools train: error: {tmp_path / 'dir.yaml'}: cannot read the config: Is a directory"
        in capsys.readouterr().err
    )
    (tmp_path / "latin1.yaml").write_bytes(b"training:\n  lr: 1e-3  # \xe9\n")
    assert main(["train", str(tmp_path / "latin1.yaml")]) == 1
    assert f"{tmp_path / 'latin1.yaml'}: not a UTF-8 text file" in capsys.readouterr().err
    locked = write_yaml(tmp_path / "locked.yaml", TINY)

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", denied)
    assert main(["train", str(locked)]) == 1
    err = capsys.readouterr().err
    assert f"{locked}: cannot read the config: Permission denied" in err and "Traceback" not in err


@pytest.mark.parametrize("where", ["under_a_file", "proc"])
def test_unwritable_output_folder_fails_before_reading_data(tmp_path, capsys, monkeypatch, where):
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "run" if where == "under_a_file" else Path("/proc/equitools-run")

    def unreachable(*args, **kwargs):
        raise AssertionError("the data was read before the output folder was checked")

    monkeypatch.setattr("equitools.train.run.load_datasets", unreachable)
    config = write_yaml(tmp_path / "x.yaml", {**TINY, "output": {"dir": str(out)}})
    assert main(["train", str(config), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"equitools train: error: output.dir {out}: cannot write there (" in err
    assert len(err.strip().splitlines()) == 1


def test_evaluate_unwritable_output_folder(tmp_path, capsys):
    save(build(TINY["model"]), tmp_path / "model.pt")
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "eval"
    assert main(["evaluate", str(tmp_path / "model.pt"), str(DATA), "--limit", "4", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"equitools evaluate: error: --output {out}: cannot write there (" in err and "Traceback" not in err


# --- D. exact resume ----------------------------------------------------------------------------


def test_training_order_is_a_function_of_seed_and_epoch():
    data = list(range(20))
    running = training_sampler(data, seed=3)
    orders = []
    for epoch in range(3):
        running.set_epoch(epoch)
        orders.append(list(running))
    fresh = training_sampler(data, seed=3)
    fresh.set_epoch(2)
    assert list(fresh) == orders[2] != orders[1] and sorted(orders[2]) == data


def test_resumed_run_repeats_the_uninterrupted_run(tmp_path):
    """Epochs 0-2 in one go, or epoch 0 then a resume for 1-2 (as after a kill mid-epoch 1, which
    restarts from the end of epoch 0): the same float64 metrics and final training state."""

    def config(out, epochs):
        return tiny(
            out,
            model={"dtype": "float64"},
            training={"max_epochs": epochs, "lr": 5e-3, "lr_patience": 0, "lr_factor": 0.5},
        )

    whole, split = tmp_path / "whole", tmp_path / "split"
    train(config(whole, 3), plots=False)
    train(config(split, 1), plots=False)
    train(config(split, 3), resume=True, plots=False)
    a, b = (read_epoch_metrics(run / "logs" / "csv") for run in (whole, split))
    for name in ("val_loss", "val_energy_mae", "val_forces_mae", "train_loss_epoch"):
        np.testing.assert_allclose(b[name][:3], a[name][:3], rtol=1e-10, atol=0, err_msg=name)
    assert np.all(np.isfinite(a["val_loss"][:3]))
    last_a, last_b = (read_checkpoint(run / "checkpoints" / "last.ckpt") for run in (whole, split))
    assert last_a["state_dict"].keys() == last_b["state_dict"].keys()
    for key, value in last_a["state_dict"].items():  # weights, EMA weights and its step count
        torch.testing.assert_close(last_b["state_dict"][key], value, rtol=1e-10, atol=0, msg=key)
    assert int(last_a["state_dict"]["ema.n_averaged"]) == 3 * 4
    assert last_b["lr_schedulers"] == last_a["lr_schedulers"]  # the plateau schedule, epoch 0's step included
