"""Save and load a potential as one file: its config, its weights and the library version."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..atomic import atomic_write
from .potential import Potential
from .registry import build

FORMAT = "equitools.potential"
FORMAT_VERSION = 1


def save(model: Potential, path: str | os.PathLike) -> Path:
    """Write ``model`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    if not isinstance(model, Potential):
        raise TypeError(f"save expects an equitools Potential, got {type(model).__name__}")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "equitools_version": __version__,
        "config": model.config,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    return atomic_write(path, lambda handle: torch.save(payload, handle))


def load(path: str | os.PathLike, model: str | None = None, map_location: Any = "cpu") -> Potential:
    """Read a potential written by :func:`save` at ``path``, or in a training run folder ``path``
    (its ``model.pt``). Training checkpoints (``.ckpt``): ``equitools.train.checkpoint.load_potential``.

    ``model``: if given ("tensornet", "escn", "freecg"), the file must hold that architecture.
    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file for a
    corrupt one, a file that is not an equitools potential, or one of another architecture.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "model.pt"
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # truncated, not a torch file, foreign pickled objects…
        raise ValueError(
            f"{path}: cannot read an equitools model from this file (corrupt or not a "
            f"torch checkpoint): {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        ) from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        keys = sorted(payload)[:8] if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"{path}: not an equitools potential (expected format {FORMAT!r}; found {keys})")
    if int(payload.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(
            f"{path}: written by equitools {payload.get('equitools_version')} in format version "
            f"{payload['format_version']}; this equitools ({__version__}) reads up to {FORMAT_VERSION}"
        )
    config = payload.get("config")
    if not isinstance(config, dict) or "model" not in config:
        raise ValueError(f"{path}: the file has no model config")
    if model is not None and config["model"] != model:
        raise ValueError(f"{path}: holds a {config['model']!r} model, not {model!r}")
    try:
        potential = build(config)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path}: its config does not build a model: {err}") from err
    state = payload.get("state_dict")
    if not isinstance(state, dict):
        raise ValueError(f"{path}: the file has no weights (state_dict)")
    try:
        result = potential.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatch
        raise ValueError(
            f"{path}: weights do not fit a {config['model']!r} model built from its config: "
            f"{str(err).splitlines()[-1].strip()}"
        ) from err
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"{path}: weights do not match a {config['model']!r} model built from its config "
            f"(missing {result.missing_keys[:5]}, unexpected {result.unexpected_keys[:5]})"
        )
    return potential
