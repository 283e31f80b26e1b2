"""Training configs: YAML files with four sections checked against a schema.

``model`` is a :func:`equitools.models.build` config (checked there); ``data``, ``training``,
``trainer`` and ``output`` are checked here, every number against its type and range in
:data:`NUMBERS`. An error names the file, the section and the key (an unknown key also lists the
valid ones); ``section.key=value`` overrides (values parsed as YAML) apply on top.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from equitools.models.registry import NUMBERS as MODEL_NUMBERS
from equitools.models.registry import ConfigValueError
from equitools.models.registry import resolve_config as resolve_model

from ..atomic import atomic_write_text
from ..ranges import COUNT, NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE, Number

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
        "min_distance": 0.1,  # Å: the loaders reject a frame with two atoms closer than this
    },
    "training": {
        "max_epochs": 1000,
        "max_time": None,  # wall-clock limit, minutes (None: none)
        "lr": 1.0e-3,
        "weight_decay": 0.0,
        "lr_warmup_steps": 500,  # linear warm-up from 0 to lr over these optimiser steps
        "lr_factor": 0.8,  # ReduceLROnPlateau on the validation loss
        "lr_patience": 25,  # validations without a better validation loss
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

SEED = Number(int, 0, 2**32 - 1)
NUMBERS: dict[str, dict[str, Number]] = {
    "data": {"split_index": Number(int, 1, 5), "n_train": COUNT, "n_val": COUNT,
             "n_test": Number(int, 1, optional=True), "seed": SEED, "batch_size": COUNT, "val_batch_size": COUNT,
             "num_workers": NON_NEGATIVE_INT, "min_distance": NON_NEGATIVE},
    "training": {"max_epochs": COUNT, "max_time": Number(float, 0, open_low=True, optional=True), "lr": POSITIVE,
                 "weight_decay": NON_NEGATIVE, "lr_warmup_steps": NON_NEGATIVE_INT,
                 "lr_factor": Number(float, 0, 1, open_low=True, open_high=True), "lr_patience": NON_NEGATIVE_INT,
                 "lr_min": NON_NEGATIVE, "early_stopping_patience": NON_NEGATIVE_INT, "energy_weight": NON_NEGATIVE,
                 "force_weight": NON_NEGATIVE, "ema_decay": Number(float, 0, 1, open_high=True, optional=True),
                 "gradient_clip": Number(float, 0, open_low=True, optional=True), "seed": SEED},
    "trainer": {"devices": COUNT, "num_nodes": COUNT, "log_every_n_steps": COUNT, "check_val_every_n_epoch": COUNT,
                "num_threads": Number(int, 1, optional=True)},
}
"""The type and range of every numeric key of ``data``, ``training`` and ``trainer``."""


class ConfigError(ValueError):
    """A config that cannot be used; the message names the file and the key."""


def default_config() -> dict[str, Any]:
    """Every section at its defaults (``model``: TensorNet at the registry's defaults)."""
    return {"model": {"model": "tensornet"}, **copy.deepcopy(SCHEMA)}


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Read the YAML file ``path``, apply ``overrides`` (``"training.lr=1e-4"``) and check it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no config file at {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not a UTF-8 text file (byte {err.start}: {err.reason})") from err
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
    """``config`` over the defaults, checked: an unknown section or key, or a value of the wrong
    type or range, raises :class:`ConfigError` naming ``source``, the section and the key."""
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
        numbers = NUMBERS.get(section, {})
        full[section].update(_parse_numbers(given, numbers))
        for key, spec in numbers.items():
            if problem := spec.problem(full[section][key]):
                raise ConfigError(f"{source}: {section}.{key} {problem}, got {full[section][key]!r}")
    model = config.get("model") or {"model": "tensornet"}
    try:
        full["model"] = resolve_model(_parse_numbers(model, MODEL_NUMBERS) if isinstance(model, dict) else model)
    except ConfigValueError as err:
        raise ConfigError(f"{source}: model.{err}") from err
    except (ValueError, TypeError) as err:
        raise ConfigError(f"{source}: section 'model': {err}") from err
    _check_choices(full, source)
    return full


def _parse_numbers(values: dict[str, Any], numeric: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``values`` with the text of each ``numeric`` key parsed (YAML reads ``1e-4`` as text)."""
    return {k: parse_value(v) if k in numeric and isinstance(v, str) else copy.deepcopy(v) for k, v in values.items()}


def _check_choices(config: dict[str, Any], source: str) -> None:
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
    if training["energy_weight"] + training["force_weight"] <= 0:
        raise ConfigError(f"{source}: training.energy_weight and training.force_weight are both 0")


def dump_config(config: dict[str, Any], path: str | Path) -> None:
    """Write ``config`` as YAML to ``path`` atomically."""
    atomic_write_text(path, yaml.safe_dump(config, sort_keys=False))
