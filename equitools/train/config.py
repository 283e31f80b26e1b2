"""Training configs: YAML files with five sections checked against a schema.

``model`` is a :func:`equitools.models.build` config (checked there); ``data``, ``training``,
``trainer`` and ``output`` are checked here against :data:`SCHEMA`, every number against its type
and range in :data:`NUMBERS`; :data:`DOCS` says what each key means (docs/config.md). An error
names the file, the section and the key (an unknown key also lists the valid ones);
``section.key=value`` overrides (values parsed as YAML) apply on top.
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
from ..key_docs import KeyDoc, key_docs
from ..ranges import COUNT, NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE, Number

SCHEMA: dict[str, dict[str, Any]] = {
    "data": {
        "format": "embedded",
        "path": None,
        "molecule": None,
        "split_index": 1,
        "test_path": None,
        "target": None,
        "energy_unit": "eV",
        "n_train": 950,
        "n_val": 50,
        "n_test": None,
        "seed": 0,
        "batch_size": 8,
        "val_batch_size": 64,
        "num_workers": 0,
        "min_distance": 0.1,
    },
    "training": {
        "max_epochs": 1000,
        "max_time": None,
        "lr": 1.0e-3,
        "weight_decay": 0.0,
        "lr_warmup_steps": 500,
        "lr_factor": 0.8,
        "lr_patience": 25,
        "lr_min": 1.0e-8,
        "early_stopping_patience": 300,
        "energy_weight": 0.5,
        "force_weight": 0.5,
        "ema_decay": 0.99,
        "gradient_clip": 40.0,
        "reference_energies": "fit",
        "seed": 0,
    },
    "trainer": {
        "accelerator": "auto",
        "devices": 1,
        "num_nodes": 1,
        "strategy": "auto",
        "progress_bar": "auto",
        "log_every_n_steps": 10,
        "check_val_every_n_epoch": 1,
        "num_threads": None,
    },
    "output": {"dir": "runs/run"},
}
"""Every key of the ``data``, ``training``, ``trainer`` and ``output`` sections, at its default."""

DOCS: dict[str, dict[str, KeyDoc]] = {
    "data": key_docs(
        """
        format         | rmd17, md17, extxyz, qm9 or embedded |            | the data set's format: rMD17 (release
                                                                             folder or one .npz), MD17 (sGDML .npz),
                                                                             extxyz (any file ASE reads), QM9 (qm9pack
                                                                             CSV or raw xyz folder), embedded (a set
                                                                             shipped with equitools)
        path           | text or null                         |            | the file or folder; null: the format's
                                                                             default (rmd17: $EQUITOOLS_DATA/rmd17; qm9:
                                                                             the 3,000-molecule sample in
                                                                             $EQUITOOLS_DATA, or `qm9pack` for the full
                                                                             set; embedded: ethanol_xtb_500K; md17 and
                                                                             extxyz need a path)
        molecule       | text or null                         |            | rmd17: the molecule (aspirin, ethanol,
                                                                             ...); required for rmd17
        split_index    |                                      |            | rmd17: the official split whose train and
                                                                             test files are read
        test_path      | text or null                         |            | a separate test file of the same format
                                                                             (rmd17: replaces the split's test file)
        target         | text or null                         |            | qm9: the property learnt as the energy (U0,
                                                                             homo, lumo, gap, mu, ...); null: U0
        energy_unit    | eV, meV, kcal/mol, kJ/mol or Hartree |            | extxyz: the file's energy unit (forces:
                                                                             that unit per Å), converted to eV on read
        n_train        |                                      | frames     | training frames, drawn from the training
                                                                             file
        n_val          |                                      | frames     | validation frames, drawn from the same file
        n_test         |                                      | frames     | test frames: the first n_test of the test
                                                                             file (null: all), or with no test file
                                                                             drawn from the training file (null: the
                                                                             rest)
        seed           |                                      |            | seed of the random train/validation/test
                                                                             split
        batch_size     |                                      | structures | structures per training batch
        val_batch_size |                                      | structures | structures per validation and test batch
        num_workers    |                                      | processes  | data-loader worker processes (0: load in
                                                                             the main process)
        min_distance   |                                      | Å          | a frame with two atoms closer than this is
                                                                             refused on read (0: no check)
        """
    ),
    "training": key_docs(
        """
        max_epochs              |             | epochs          | training stops after this many epochs
        max_time                |             | minutes         | training stops after this wall-clock time (null: no
                                                                  limit); the best checkpoint is then tested and
                                                                  exported as usual
        lr                      |             |                 | the learning rate of AdamW after the warm-up
        weight_decay            |             |                 | AdamW's decoupled weight decay
        lr_warmup_steps         |             | optimiser steps | linear warm-up of the learning rate from 0 to lr
        lr_factor               |             |                 | ReduceLROnPlateau on the validation loss: the learning
                                                                  rate is multiplied by this
        lr_patience             |             | validations     | validations without a better validation loss before
                                                                  the learning rate is reduced
        lr_min                  |             |                 | the learning rate is never reduced below this
        early_stopping_patience |             | validations     | validations without a better validation loss before
                                                                  training stops
        energy_weight           |             |                 | loss = energy_weight · MSE(E) + force_weight · MSE(F),
                                                                  E in eV and F in eV/Å
        force_weight            |             |                 | the weight of the force term of the loss (0: energies
                                                                  or properties only)
        ema_decay               |             |                 | decay of the exponential moving average of the weights
                                                                  that is validated, tested and exported (null or 0: no
                                                                  average)
        gradient_clip           |             |                 | the gradient norm is clipped to this (null: no
                                                                  clipping)
        reference_energies      | fit or none |                 | fit: per-element reference energies by least squares
                                                                  on the training set; none: no references (molecular
                                                                  properties)
        seed                    |             |                 | seed of the initial weights and of the training
                                                                  shuffle (a function of seed and epoch)
        """
    ),
    "trainer": key_docs(
        """
        accelerator             | text                |                 | Lightning's accelerator: cpu, gpu or auto
        devices                 |                     | processes       | processes (devices) per node; more than 1
                                                                          trains with DDP
        num_nodes               |                     | nodes           | nodes of a multi-node DDP run
        strategy                | text                |                 | Lightning's strategy: auto, ddp, ddp_spawn,
                                                                          ...; DDP on CPUs uses gloo
        progress_bar            | auto, true or false |                 | progress bars: auto shows them only when
                                                                          stderr is a terminal; true or false forces
                                                                          them on or off
        log_every_n_steps       |                     | optimiser steps | steps between logged training losses
        check_val_every_n_epoch |                     | epochs          | epochs between validations
        num_threads             |                     | threads         | torch CPU threads per process (null: torch's
                                                                          default)
        """
    ),
    "output": key_docs(
        """
        dir | text |  | the run folder: checkpoints/, logs/, config.yaml, model.pt, metrics.json and plots; checked to
                        be writable before training starts
        """
    ),
}
"""(type, unit, meaning) of every key of :data:`SCHEMA`, written as text tables
(:func:`~equitools.key_docs.key_docs`); the type is empty for the numeric keys, whose type and
range are in :data:`NUMBERS`. Rendered into docs/config.md by :mod:`equitools.train.config_reference`."""

SECTIONS = ("model", *SCHEMA)

SEED = Number(int, 0, 2**32 - 1)
NUMBERS: dict[str, dict[str, Number]] = {
    "data": {
        "split_index": Number(int, 1, 5),
        "n_train": COUNT,
        "n_val": COUNT,
        "n_test": Number(int, 1, optional=True),
        "seed": SEED,
        "batch_size": COUNT,
        "val_batch_size": COUNT,
        "num_workers": NON_NEGATIVE_INT,
        "min_distance": NON_NEGATIVE,
    },
    "training": {
        "max_epochs": COUNT,
        "max_time": Number(float, 0, open_low=True, optional=True),
        "lr": POSITIVE,
        "weight_decay": NON_NEGATIVE,
        "lr_warmup_steps": NON_NEGATIVE_INT,
        "lr_factor": Number(float, 0, 1, open_low=True, open_high=True),
        "lr_patience": NON_NEGATIVE_INT,
        "lr_min": NON_NEGATIVE,
        "early_stopping_patience": NON_NEGATIVE_INT,
        "energy_weight": NON_NEGATIVE,
        "force_weight": NON_NEGATIVE,
        "ema_decay": Number(float, 0, 1, open_high=True, optional=True),
        "gradient_clip": Number(float, 0, open_low=True, optional=True),
        "seed": SEED,
    },
    "trainer": {
        "devices": COUNT,
        "num_nodes": COUNT,
        "log_every_n_steps": COUNT,
        "check_val_every_n_epoch": COUNT,
        "num_threads": Number(int, 1, optional=True),
    },
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
    progress_bar = config["trainer"]["progress_bar"]
    if progress_bar != "auto" and not isinstance(progress_bar, bool):
        raise ConfigError(f"{source}: trainer.progress_bar must be 'auto', true or false, got {progress_bar!r}")
    formats = ("rmd17", "md17", "extxyz", "qm9", "embedded")
    if data["format"] not in formats:
        raise ConfigError(f"{source}: data.format must be one of {list(formats)}, got {data['format']!r}")
    if data["format"] == "rmd17" and not data["molecule"]:
        raise ConfigError(f"{source}: data.format 'rmd17' needs data.molecule")
    if training["reference_energies"] not in ("fit", "none"):
        raise ConfigError(
            f"{source}: training.reference_energies must be 'fit' or 'none', got {training['reference_energies']!r}"
        )
    readout = config["model"]["readout"]
    if readout != "sum" and (training["reference_energies"] == "fit" or training["force_weight"] > 0):
        raise ConfigError(
            f"{source}: model.readout {readout!r} learns a molecular property: it needs "
            "training.reference_energies 'none' and training.force_weight 0"
        )
    if training["energy_weight"] + training["force_weight"] <= 0:
        raise ConfigError(f"{source}: training.energy_weight and training.force_weight are both 0")


def dump_config(config: dict[str, Any], path: str | Path) -> None:
    """Write ``config`` as YAML to ``path`` atomically."""
    atomic_write_text(path, yaml.safe_dump(config, sort_keys=False))
