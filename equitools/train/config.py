"""Training configs: YAML files with four sections checked against a schema.

``model`` is a :func:`equitools.models.build` config (checked there); ``data``, ``training``,
``trainer`` and ``output`` are checked here. An unknown key is an error naming the key and
listing the valid ones; ``section.key=value`` overrides (values parsed as YAML) apply on top.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from ..atomic import atomic_write_text

SCHEMA: dict[str, dict[str, Any]] = {
    "data": {
        "format": "embedded",  # rmd17 | md17 | extxyz | qm9 | embedded
        "path": None,  # file or folder; None: the default of the format (see equitools.train.data)
        "molecule": None,  # rmd17: molecule name
        "split_index": 1,  # rmd17: official split 1..5
        "test_path": None,  # a separate test file (rmd17: the split's test file is used)
        "target": None,  # qm9: the property learnt as "energy" (U0, homo, lumo, gap, mu, ...)
        "energy_unit": "eV",  # extxyz: the file's energy unit
        "n_train": 950,  # frames for training, taken from the training file
        "n_val": 50,  # frames for validation, from the same file
        "n_test": None,  # frames for testing from the same file when there is no test file (None: the rest)
        "seed": 0,  # seed of the train/val/test split
        "batch_size": 8,
        "val_batch_size": 64,
        "num_workers": 0,
    },
    "training": {
        "max_epochs": 1000,
        "max_time": None,  # wall-clock limit, minutes (None: none)
        "lr": 1.0e-3,
        "weight_decay": 0.0,
        "lr_warmup_steps": 500,  # linear warm-up from 0 to lr over these optimiser steps
        "lr_factor": 0.8,  # ReduceLROnPlateau on the validation loss
        "lr_patience": 25,
        "lr_min": 1.0e-8,
        "early_stopping_patience": 300,  # epochs without a better validation loss
        "energy_weight": 0.5,  # loss = energy_weight · MSE(E) + force_weight · MSE(F), eV and eV/Å
        "force_weight": 0.5,
        "ema_decay": 0.99,  # exponential moving average of the weights (None: off)
        "gradient_clip": 40.0,  # max gradient norm (None: off)
        "reference_energies": "fit",  # fit: per-element energies by least squares on the training set; none
        "seed": 0,
    },
    "trainer": {
        "accelerator": "auto",  # cpu | gpu | auto
        "devices": 1,  # processes per node
        "num_nodes": 1,
        "strategy": "auto",  # auto | ddp | ddp_spawn ...; CPU DDP uses the gloo backend
        "progress_bar": True,
        "log_every_n_steps": 10,
        "check_val_every_n_epoch": 1,
        "num_threads": None,  # torch CPU threads per process (None: torch's default)
    },
    "output": {
        "dir": "runs/run",  # checkpoints/, logs/, model.pt, metrics.json, plots
    },
}
SECTIONS = ("model", *SCHEMA)
OPTIONAL_NUMBERS = {("data", "n_test"), ("trainer", "num_threads"), ("training", "max_time"), ("training", "ema_decay"),
                    ("training", "gradient_clip")}
"""Keys whose default is None but whose value, when given, is a number."""


class ConfigError(ValueError):
    """A config that cannot be used; the message names the file and the key."""


def default_config() -> dict[str, Any]:
    """Every section at its defaults (``model``: TensorNet at the registry's defaults)."""
    return {"model": {"model": "tensornet"}, **copy.deepcopy(SCHEMA)}


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Read the YAML file ``path``, apply ``overrides`` (``"training.lr=1e-4"``) and check it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no config file at {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config must be a mapping of sections {list(SECTIONS)}")
    return resolve_config(apply_overrides(raw, overrides), source=str(path))


def apply_overrides(config: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """A copy of ``config`` with each ``section.key=value`` set (value parsed as YAML)."""
    out = copy.deepcopy(config)
    for item in overrides:
        key, sep, text = item.partition("=")
        parts = key.strip().split(".")
        if not sep or len(parts) != 2 or not all(parts):
            raise ConfigError(f"override {item!r}: expected section.key=value, e.g. training.lr=1e-4")
        section, name = parts
        if section not in SECTIONS:
            raise ConfigError(f"override {item!r}: unknown section {section!r}; valid sections: {list(SECTIONS)}")
        out.setdefault(section, {})
        if not isinstance(out[section], dict):
            raise ConfigError(f"override {item!r}: section {section!r} is not a mapping")
        out[section][name] = parse_value(text)
    return out


def parse_value(text: str) -> Any:
    """A value given on the command line: YAML, except that numbers such as ``1e-4`` (a string
    in YAML 1.1) are numbers."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def resolve_config(config: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """``config`` over the defaults, checked: unknown sections/keys raise :class:`ConfigError`."""
    from equitools.models.registry import resolve_config as resolve_model

    unknown = [k for k in config if k not in SECTIONS]
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {unknown}; valid sections: {list(SECTIONS)}")
    full = default_config()
    for section, defaults in SCHEMA.items():
        given = config.get(section) or {}
        if not isinstance(given, dict):
            raise ConfigError(f"{source}: section {section!r} must be a mapping, got {type(given).__name__}")
        bad = [k for k in given if k not in defaults]
        if bad:
            raise ConfigError(f"{source}: unknown key(s) {bad} in section {section!r}; valid keys: {sorted(defaults)}")
        full[section].update(copy.deepcopy(given))
    model = config.get("model") or {"model": "tensornet"}
    try:
        full["model"] = resolve_model(model)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"{source}: section 'model': {err}") from err
    _check_values(full, source)
    return full


def _check_values(config: dict[str, Any], source: str) -> None:
    for section, defaults in SCHEMA.items():
        for key, default in defaults.items():
            numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
            numeric = numeric or (section, key) in OPTIONAL_NUMBERS
            value = config[section][key]
            if numeric and isinstance(value, str):
                value = config[section][key] = parse_value(value)
            if numeric and value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ConfigError(f"{source}: {section}.{key} must be a number, got {value!r}")
    data, training = config["data"], config["training"]
    formats = ("rmd17", "md17", "extxyz", "qm9", "embedded")
    if data["format"] not in formats:
        raise ConfigError(f"{source}: data.format must be one of {list(formats)}, got {data['format']!r}")
    if data["format"] == "rmd17" and not data["molecule"]:
        raise ConfigError(f"{source}: data.format 'rmd17' needs data.molecule")
    if training["reference_energies"] not in ("fit", "none"):
        raise ConfigError(f"{source}: training.reference_energies must be 'fit' or 'none', "
                          f"got {training['reference_energies']!r}")
    readout = config["model"]["readout"]
    if readout != "sum" and (training["reference_energies"] == "fit" or training["force_weight"] > 0):
        raise ConfigError(f"{source}: model.readout {readout!r} learns a molecular property: it needs "
                          "training.reference_energies 'none' and training.force_weight 0")
    for key in ("energy_weight", "force_weight"):
        if not isinstance(training[key], (int, float)) or training[key] < 0:
            raise ConfigError(f"{source}: training.{key} must be a number >= 0, got {training[key]!r}")
    if training["energy_weight"] + training["force_weight"] <= 0:
        raise ConfigError(f"{source}: training.energy_weight and training.force_weight are both 0")
    for key in ("n_train", "n_val", "batch_size", "val_batch_size"):
        if not isinstance(data[key], int) or data[key] < 1:
            raise ConfigError(f"{source}: data.{key} must be a positive integer, got {data[key]!r}")


def dump_config(config: dict[str, Any], path: str | Path) -> None:
    """Write ``config`` as YAML to ``path`` atomically."""
    atomic_write_text(path, yaml.safe_dump(config, sort_keys=False))
