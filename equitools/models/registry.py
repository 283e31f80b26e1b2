"""Build a potential from a plain config dict: ``build({"model": "tensornet", ...})``."""

from __future__ import annotations

import copy
from typing import Any, Callable

import torch

from ..ranges import COUNT, POSITIVE, Number
from .potential import Potential

COMMON_DEFAULTS: dict[str, Any] = {
    "max_z": 100,  # largest atomic number the model accepts
    "atomic_energies": None,  # per-element reference energies (eV): {z: E} or a list indexed by z
    "energy_scale": 1.0,  # atomic energy = scale · readout + shift + E_ref[z]
    "energy_shift": 0.0,
    "readout": "sum",  # "sum" (energies), "mean" (intensive properties) or "dipole" (|μ|, QM9 mu)
    "dtype": "float32",  # "float32" or "float64"
}


def _tensornet(**kw):
    from ..nn.tensornet import TensorNet

    return TensorNet(**kw)


def _escn(**kw):
    from ..nn.escn import ESCN

    return ESCN(**kw)


def _freecg(**kw):
    from ..nn.freecg import FreeCG

    return FreeCG(**kw)


# the published defaults of each representation (names as in the papers)
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "tensornet": {
        "hidden_channels": 128, "num_layers": 2, "num_rbf": 32, "rbf_type": "expnorm", "cutoff": 5.0,
        "activation": "silu", "equivariance_group": "O(3)",
    },
    "escn": {
        "sphere_channels": 128, "hidden_channels": 256, "edge_channels": 128, "num_layers": 8,
        "lmax": 6, "mmax": 2, "num_basis": 400, "cutoff": 8.0, "activation": "silu",
    },
    "freecg": {
        "hidden_channels": 256, "num_layers": 9, "num_heads": 8, "lmax": 2, "num_groups": 32,
        "num_rbf": 32, "cutoff": 5.0, "activation": "silu", "cg_paths": "sparse", "shuffle": True,
        "attention_enhancer": True,
    },
}


NUMBERS: dict[str, Number] = {
    "hidden_channels": COUNT, "num_layers": COUNT, "num_rbf": COUNT, "num_heads": COUNT, "num_groups": COUNT,
    "sphere_channels": COUNT, "edge_channels": COUNT, "num_basis": Number(int, 2), "lmax": Number(int, 0),
    "mmax": Number(int, 0), "cutoff": POSITIVE, "max_z": COUNT, "energy_scale": POSITIVE,
    "energy_shift": Number(float),
}
"""Every numeric key of the model configs, with its type and range."""

RULES: tuple[tuple[str, str, Callable[[dict], bool], str], ...] = (
    ("escn", "mmax", lambda c: c["mmax"] <= c["lmax"], "must be <= lmax ({lmax})"),
    ("freecg", "lmax", lambda c: c["lmax"] == 2, "must be 2 (FreeCG's spherical features are l = 1, 2)"),
    ("freecg", "num_heads", lambda c: c["hidden_channels"] % c["num_heads"] == 0,
     "must divide hidden_channels ({hidden_channels})"),
    ("freecg", "num_groups", lambda c: c["hidden_channels"] % c["num_groups"] == 0,
     "must divide hidden_channels ({hidden_channels})"),
    ("tensornet", "num_rbf", lambda c: c["rbf_type"] != "gaussian" or c["num_rbf"] >= 2,
     "must be >= 2 with rbf_type 'gaussian'"),
)
"""Constraints between the keys of one model: (model, key, holds(config), requirement)."""


class ConfigValueError(ValueError):
    """A model config value of the wrong type or out of range; ``key`` names it."""

    def __init__(self, key: str, requirement: str, value: Any):
        super().__init__(f"{key} {requirement}, got {value!r}")
        self.key = key


def check_values(config: dict[str, Any]) -> None:
    """Raise :class:`ConfigValueError` for the first numeric value of the resolved ``config``
    outside its type or range (:data:`NUMBERS`), or breaking a constraint of its model (:data:`RULES`)."""
    for key, spec in NUMBERS.items():
        if key in config and (problem := spec.problem(config[key])):
            raise ConfigValueError(key, problem, config[key])
    for model, key, holds, requirement in RULES:
        if config["model"] == model and not holds(config):
            raise ConfigValueError(key, requirement.format(**config), config[key])


_BUILDERS: dict[str, Callable[..., torch.nn.Module]] = {"tensornet": _tensornet, "escn": _escn, "freecg": _freecg}

MODELS = tuple(MODEL_DEFAULTS)


def default_config(model: str) -> dict[str, Any]:
    """The full config of ``model`` with every key at its published default."""
    if model not in MODEL_DEFAULTS:
        raise ValueError(f"unknown model {model!r}; valid models: {list(MODELS)}")
    return {"model": model, **copy.deepcopy(MODEL_DEFAULTS[model]), **copy.deepcopy(COMMON_DEFAULTS)}


def resolve_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` merged over the defaults; clear errors for a missing model, an unknown key or a
    value of the wrong type or range (:func:`check_values`)."""
    if not isinstance(config, dict):
        raise TypeError(f"a model config must be a dict, got {type(config).__name__}")
    if "model" not in config:
        raise ValueError(f"config has no 'model' key; valid models: {list(MODELS)}")
    full = default_config(config["model"])
    unknown = [k for k in config if k not in full]
    if unknown:
        raise ValueError(
            f"unknown config key(s) {unknown} for model {config['model']!r}; valid keys: {sorted(full)}")
    full.update(copy.deepcopy(config))
    if full["dtype"] not in ("float32", "float64"):
        raise ValueError(f"config key 'dtype' must be 'float32' or 'float64', got {full['dtype']!r}")
    check_values(full)
    return full


def build(config: dict[str, Any]) -> Potential:
    """A :class:`Potential` from a config dict; every key but ``"model"`` is optional."""
    full = resolve_config(config)
    kwargs = {k: v for k, v in full.items() if k in MODEL_DEFAULTS[full["model"]]}
    dtype = torch.float64 if full["dtype"] == "float64" else torch.float32
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        representation = _BUILDERS[full["model"]](max_z=full["max_z"], **kwargs)
        model = Potential(representation, full, max_z=full["max_z"], atomic_energies=full["atomic_energies"],
                          energy_scale=full["energy_scale"], energy_shift=full["energy_shift"],
                          readout=full["readout"])
    finally:
        torch.set_default_dtype(previous)
    return model.to(dtype)
