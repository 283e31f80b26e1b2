"""Lightning training checkpoints: compatibility with a config, and export of their weights to
the one-file ``equitools.models`` format used for inference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from equitools.models import Potential, load, save
from equitools.models.registry import resolve_config

from .module import ForceFieldModule


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The content of a Lightning checkpoint written by :func:`equitools.train.train`; clear
    errors for a missing file or another kind of file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"{path}: not a readable training checkpoint ({type(err).__name__})") from err
    hparams = payload.get("hyper_parameters") if isinstance(payload, dict) else None
    if not isinstance(hparams, dict) or "model_config" not in hparams or "state_dict" not in payload:
        hint = (
            " (an exported model file: use it with evaluate/md, not to resume)"
            if isinstance(payload, dict) and payload.get("format") == "equitools.potential"
            else ""
        )
        raise ValueError(f"{path}: not an equitools training checkpoint{hint}")
    return payload


def check_compatible(path: str | Path, model_config: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the checkpoint when its model is not the one ``model_config``
    (resolved) describes: another architecture or other hyperparameters."""
    saved = read_checkpoint(path)["hyper_parameters"]["model_config"]
    try:
        saved = resolve_config(saved)  # today's names and defaults (a legacy key such as eSCN's num_basis)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path}: the checkpoint's model config is not valid: {err}") from err
    if saved.get("model") != model_config.get("model"):
        raise ValueError(
            f"{path}: checkpoint of a {saved.get('model')!r} model, but the config asks for "
            f"{model_config.get('model')!r}"
        )
    ignored = {"atomic_energies", "energy_scale", "energy_shift"}
    differ = sorted(
        k for k in set(saved) | set(model_config) if k not in ignored and saved.get(k) != model_config.get(k)
    )
    if differ:
        detail = ", ".join(
            f"{k}: {saved.get(k)!r} in the checkpoint, {model_config.get(k)!r} in the config" for k in differ
        )
        raise ValueError(f"{path}: the checkpoint's model differs from the config ({detail})")


def export_checkpoint(path: str | Path, output: str | Path) -> Path:
    """Write the inference weights of the training checkpoint ``path`` (EMA when used) as an
    ``equitools.models`` file ``output``; returns ``output``."""
    if Path(path).suffix != ".ckpt":
        raise ValueError(f"{path}: expected a Lightning training checkpoint (.ckpt)")
    return save(load_potential(path), output)


def load_potential(path: str | Path, model: str | None = None) -> Potential:
    """A potential for inference from an exported model file, a run folder (its ``model.pt``)
    or a Lightning training checkpoint (``.ckpt``). ``model``: the architecture it must be."""
    path = Path(path)
    if path.suffix != ".ckpt" or path.is_dir():
        return load(path, model=model)
    payload = read_checkpoint(path)
    module = ForceFieldModule(**payload["hyper_parameters"])
    module.load_state_dict(payload["state_dict"])
    potential = module.export()
    if model is not None and potential.model_name != model:
        raise ValueError(f"{path}: holds a {potential.model_name!r} model, not {model!r}")
    return potential
