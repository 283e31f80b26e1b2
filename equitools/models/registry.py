"""Build a potential from a plain config dict: ``build({"model": "tensornet", ...})``.

The one place of the model defaults: the representations (``equitools.nn``) take every
hyperparameter as a required keyword, so no second table of defaults can drift from this one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch

from ..key_docs import KeyDoc, key_docs
from ..nn.node_interaction import NODE_INTERACTIONS
from ..ranges import COUNT, POSITIVE, Number
from .potential import Potential

COMMON_DEFAULTS: dict[str, Any] = {
    "max_z": 100,
    "atomic_energies": None,
    "energy_scale": 1.0,
    "energy_shift": 0.0,
    "readout": "sum",
    "dtype": "float32",
}
"""The keys every model has, at their defaults (``"model"``, the architecture, is required)."""


def _tensornet(**kw):
    from ..nn.tensornet import TensorNet

    return TensorNet(**kw)


def _escn(**kw):
    from ..nn.escn import ESCN

    return ESCN(**kw)


def _freecg(**kw):
    from ..nn.freecg import FreeCG

    return FreeCG(**kw)


MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "tensornet": {
        "hidden_channels": 128,
        "num_layers": 2,
        "num_rbf": 32,
        "rbf_type": "expnorm",
        "cutoff": 4.5,
        "activation": "silu",
        "equivariance_group": "O(3)",
        "max_rank": 2,
    },
    "escn": {
        "sphere_channels": 128,
        "hidden_channels": 256,
        "edge_channels": 128,
        "num_layers": 8,
        "lmax": 6,
        "mmax": 2,
        "num_rbf": 400,
        "cutoff": 8.0,
        "activation": "silu",
        "node_interaction": "none",
    },
    "freecg": {
        "hidden_channels": 256,
        "num_layers": 9,
        "num_heads": 8,
        "num_groups": 32,
        "num_rbf": 32,
        "cutoff": 5.0,
        "activation": "silu",
        "cg_paths": "sparse",
        "shuffle": True,
        "attention_enhancer": True,
        "node_interaction": "none",
    },
}
"""The published defaults of each representation (names as in the papers): TensorNet's rMD17
recipe (Simeon & De Fabritiis, NeurIPS 2023), eSCN's OC20 one (Passaro & Zitnick, ICML 2023),
FreeCG's rMD17 one (Shao et al., ICLR 2025)."""

RENAMED_KEYS: dict[str, dict[str, str]] = {"escn": {"num_basis": "num_rbf"}}
"""Old names still read, per model (old → new): configs and model files written before a rename
load unchanged, and the resolved config (which a saved model keeps) carries the new name."""

RETIRED_KEYS: dict[str, dict[str, tuple[Any, str]]] = {
    "freecg": {"lmax": (2, "FreeCG's spherical features are l = 1, 2")},
}
"""Keys removed because they had one valid value (model → key → (value, why)): still accepted at
that value, which is dropped; any other value is an error."""

SHARED_DOCS = key_docs(
    """
    cutoff           |                               | Å | neighbour cutoff (cosine cutoff function)
    activation       | silu, tanh, gelu, ssp or relu |   | the activation function
    node_interaction | none or gaunt                 |   | gaunt: in every layer, add a node-wise self-interaction x ⊗ x
                                                           by a Gaunt tensor product (Luo et al., ICLR 2024;
                                                           nn.node_interaction), with an output scale that starts at 0,
                                                           so a fresh model computes the same function as with none;
                                                           none: the published architecture
    """
)
"""Keys that mean the same in every architecture that has them."""


def _model_docs(model: str, table: str) -> dict[str, KeyDoc]:
    """The docs of ``model``'s keys, in the order of its defaults: its own ``table`` over :data:`SHARED_DOCS`."""
    docs = {**SHARED_DOCS, **key_docs(table)}
    return {key: docs[key] for key in MODEL_DEFAULTS[model]}


DOCS: dict[str, dict[str, KeyDoc]] = {
    "common": key_docs(
        """
        model           | tensornet, escn or freecg                 |    | the architecture; required in a model section
                                                                           (every other key is optional)
        max_z           |                                           |    | the largest atomic number the model accepts
        atomic_energies | {z: energy}, a list indexed by z, or null | eV | per-element reference energies E_ref[z], kept
                                                                           and summed in float64 (null: 0); training
                                                                           sets them (training.reference_energies)
        energy_scale    |                                           |    | atomic energy = energy_scale · readout +
                                                                           energy_shift + E_ref[z]; training sets it
                                                                           from the data
        energy_shift    |                                           | eV | see energy_scale; training sets it from the
                                                                           data
        readout         | sum, mean or dipole                       |    | sum: energies (extensive); mean: intensive
                                                                           properties; dipole: |Σ q_i r_i| with neutral
                                                                           charges (QM9 mu)
        dtype           | float32 or float64                        |    | the dtype of the weights and of the
                                                                           computation (energies are summed in float64)
        """
    ),
    "tensornet": _model_docs(
        "tensornet",
        """
        hidden_channels    |                             |  | channels of the tensor features (I, A, S; or the ICTs of
                                                              ranks 0…max_rank)
        num_layers         |                             |  | interaction layers
        num_rbf            |                             |  | radial basis functions (at least 2 with gaussian)
        rbf_type           | expnorm, bessel or gaussian |  | the radial basis (expnorm: exponential-normal)
        equivariance_group | O(3) or SO(3)               |  | O(3): invariant under reflections too; SO(3): rotations
                                                              only
        max_rank           |                             |  | 2: the paper's 3×3 tensors (I, A, S); 3 or 4: irreducible
                                                              Cartesian tensors of ranks 0…max_rank per channel, coupled
                                                              by ICT products (nn.tensornet_ict; a training step takes
                                                              about 1.7× as long at 3)
        """,
    ),
    "escn": _model_docs(
        "escn",
        """
        sphere_channels |  |  | channels of the spherical node features (degrees 0..lmax)
        hidden_channels |  |  | channels inside the SO(2) convolutions and the node blocks
        edge_channels   |  |  | channels of the edge embedding (distance and elements)
        num_layers      |  |  | message-passing layers
        lmax            |  |  | the largest degree L of the node features
        mmax            |  |  | the largest order m kept in the edge frame (<= lmax)
        num_rbf         |  |  | Gaussian distance functions on [0, cutoff] (at least 2; formerly num_basis, still read)
        """,
    ),
    "freecg": _model_docs(
        "freecg",
        """
        hidden_channels    |                |  | channels of the scalar and l = 1, 2 features (the degrees are fixed:
                                                 the former key lmax is still read if it is 2)
        num_layers         |                |  | message-passing layers
        num_heads          |                |  | attention heads (divides hidden_channels)
        num_groups         |                |  | channel groups of the group CG transform (divides hidden_channels)
        num_rbf            |                |  | exponential-normal radial basis functions
        cg_paths           | sparse or full |  | group CG paths: sparse, the parity-allowed ones (O(3)); full, also
                                                 1⊗1→1, 1⊗2→2, 2⊗1→2, 2⊗2→1 (then SO(3) only)
        shuffle            | true or false  |  | shift the group CG output by half a group per layer, so each group
                                                 mixes two groups of the layer before
        attention_enhancer | true or false  |  | add a term of the neighbour's features along the edge direction to the
                                                 attention logits
        """,
    ),
}
"""(type, unit, meaning) of every model key, common and per architecture, written as text tables
(:func:`~equitools.key_docs.key_docs`); the type is empty for the numeric keys, whose type and
range are in :data:`NUMBERS`."""

NUMBERS: dict[str, Number] = {
    "hidden_channels": COUNT,
    "num_layers": COUNT,
    "num_rbf": COUNT,
    "num_heads": COUNT,
    "num_groups": COUNT,
    "sphere_channels": COUNT,
    "edge_channels": COUNT,
    "lmax": Number(int, 0),
    "mmax": Number(int, 0),
    "max_rank": Number(int, 2, 4),
    "cutoff": POSITIVE,
    "max_z": COUNT,
    "energy_scale": POSITIVE,
    "energy_shift": Number(float),
}
"""Every numeric key of the model configs, with its type and range."""

CHOICES: dict[str, tuple[Any, ...]] = {"node_interaction": NODE_INTERACTIONS}
"""Model keys with a fixed set of values (checked here, so a bad value is named before any build)."""

RULES: tuple[tuple[str, str, Callable[[dict], bool], str], ...] = (
    ("escn", "mmax", lambda c: c["mmax"] <= c["lmax"], "must be <= lmax ({lmax})"),
    ("escn", "num_rbf", lambda c: c["num_rbf"] >= 2, "must be >= 2 (a Gaussian basis)"),
    (
        "freecg",
        "num_heads",
        lambda c: c["hidden_channels"] % c["num_heads"] == 0,
        "must divide hidden_channels ({hidden_channels})",
    ),
    (
        "freecg",
        "num_groups",
        lambda c: c["hidden_channels"] % c["num_groups"] == 0,
        "must divide hidden_channels ({hidden_channels})",
    ),
    (
        "tensornet",
        "num_rbf",
        lambda c: c["rbf_type"] != "gaussian" or c["num_rbf"] >= 2,
        "must be >= 2 with rbf_type 'gaussian'",
    ),
)
"""Constraints between the keys of one model: (model, key, holds(config), requirement)."""


class ConfigValueError(ValueError):
    """A model config value of the wrong type or out of range; ``key`` names it."""

    def __init__(self, key: str, requirement: str, value: Any):
        super().__init__(f"{key} {requirement}, got {value!r}")
        self.key = key


def check_values(config: dict[str, Any]) -> None:
    """Raise :class:`ConfigValueError` for the first numeric value of the resolved ``config``
    outside its type or range (:data:`NUMBERS`), a value outside its :data:`CHOICES`, or a value
    breaking a constraint of its model (:data:`RULES`)."""
    for key, spec in NUMBERS.items():
        if key in config and (problem := spec.problem(config[key])):
            raise ConfigValueError(key, problem, config[key])
    for key, allowed in CHOICES.items():
        if key in config and config[key] not in allowed:
            raise ConfigValueError(key, f"must be one of {list(allowed)}", config[key])
    for model, key, holds, requirement in RULES:
        if config["model"] == model and not holds(config):
            raise ConfigValueError(key, requirement.format(**config), config[key])


_BUILDERS: dict[str, Callable[..., torch.nn.Module]] = {"tensornet": _tensornet, "escn": _escn, "freecg": _freecg}

MODELS = tuple(MODEL_DEFAULTS)
"""The built-in architectures (:func:`register_model` adds others to :data:`MODEL_DEFAULTS`)."""
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def register_model(
    name: str, representation: Callable[..., torch.nn.Module], defaults: dict[str, Any], docs: dict | None = None
) -> None:
    """Let :func:`build`, :func:`~equitools.models.load` and ``equitools.train`` take
    ``{"model": name, ...}`` for a representation of your own.

    representation: called as ``representation(max_z=..., **hyperparameters)``; returns a module
    with ``cutoff`` (Å), ``num_features`` and ``forward(z, graph) -> (n_atoms, num_features)``
    (``graph`` an :class:`~equitools.nn.EdgeGraph`), as the built-in ones. defaults: every
    hyperparameter at its default value (the keys a config may set besides the common ones).
    docs: optional ``{key: text}`` for the config reference. A saved model holds its config and
    weights, never code, so loading it needs the same registration in the loading process.
    Registering a name again replaces it; the built-in names cannot be replaced. Example (a
    narrower TensorNet under its own name)::

        register_model("tiny-tensornet", TensorNet, {**MODEL_DEFAULTS["tensornet"], "hidden_channels": 8})
        model = build({"model": "tiny-tensornet", "num_layers": 1})
    """
    if not isinstance(name, str) or not name or name == "model":
        raise ValueError(f"a model name must be a non-empty string, got {name!r}")
    if name in MODELS:
        raise ValueError(f"{name!r} is a built-in model; register yours under another name")
    if not callable(representation):
        raise TypeError(f"representation must be callable (a class or function), got {type(representation).__name__}")
    if not isinstance(defaults, dict) or not all(isinstance(k, str) for k in defaults):
        raise TypeError("defaults must be a dict of hyperparameter names to default values")
    clashes = sorted(set(defaults) & (set(COMMON_DEFAULTS) | {"model"}))
    if clashes:
        raise ValueError(f"defaults of {name!r} repeat keys every model has: {clashes}")
    MODEL_DEFAULTS[name] = copy.deepcopy(defaults)
    DOCS[name] = {key: ("", "", text) for key, text in (docs or {}).items()}
    _BUILDERS[name] = representation


def default_config(model: str) -> dict[str, Any]:
    """The full config of ``model`` with every key at its published default."""
    if model not in MODEL_DEFAULTS:
        raise ValueError(f"unknown model {model!r}; valid models: {list(MODEL_DEFAULTS)}")
    return {"model": model, **copy.deepcopy(MODEL_DEFAULTS[model]), **copy.deepcopy(COMMON_DEFAULTS)}


def resolve_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` merged over the defaults, old key names read as the new ones; clear errors for a
    missing model, an unknown key or a value of the wrong type or range (:func:`check_values`)."""
    if not isinstance(config, dict):
        raise TypeError(f"a model config must be a dict, got {type(config).__name__}")
    if "model" not in config:
        raise ValueError(f"config has no 'model' key; valid models: {list(MODEL_DEFAULTS)}")
    full = default_config(config["model"])
    config = _read_old_keys(config)
    unknown = [k for k in config if k not in full]
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown} for model {config['model']!r}; valid keys: {sorted(full)}")
    full.update(copy.deepcopy(config))
    if full["dtype"] not in DTYPES:
        raise ValueError(f"config key 'dtype' must be 'float32' or 'float64', got {full['dtype']!r}")
    check_values(full)
    return full


def _read_old_keys(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with its renamed keys under their new names and its retired keys checked and
    dropped (:data:`RENAMED_KEYS`, :data:`RETIRED_KEYS`), silently: the old names stay valid."""
    model = config["model"]
    config = dict(config)
    for old, new in RENAMED_KEYS.get(model, {}).items():
        if old in config:
            if new in config:
                raise ValueError(
                    f"config has both {old!r} and {new!r}, one key under its old and new name; keep {new!r}"
                )
            config[new] = config.pop(old)
    for key, (value, why) in RETIRED_KEYS.get(model, {}).items():
        given = config.pop(key, value)
        if given != value:
            raise ConfigValueError(key, f"must be {value} ({why}; the key can be left out)", given)
    return config


def build(config: dict[str, Any], dtype: torch.dtype | None = None) -> Potential:
    """A :class:`Potential` from a config dict; every key but ``"model"`` is optional.

    dtype: ``torch.float32`` or ``torch.float64``, overriding the config's ``"dtype"`` (which the
    returned model's config then records). The model is built and then moved to that dtype: its
    constants are made in float64, never from torch's global default dtype, which is left alone.
    """
    if dtype is not None:
        if dtype not in DTYPES.values():
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        config = {**config, "dtype": str(dtype).removeprefix("torch.")}
    full = resolve_config(config)
    kwargs = {k: v for k, v in full.items() if k in MODEL_DEFAULTS[full["model"]]}
    representation = _BUILDERS[full["model"]](max_z=full["max_z"], **kwargs)
    model = Potential(
        representation,
        full,
        max_z=full["max_z"],
        atomic_energies=full["atomic_energies"],
        energy_scale=full["energy_scale"],
        energy_shift=full["energy_shift"],
        readout=full["readout"],
    )
    return model.to(DTYPES[full["dtype"]])
