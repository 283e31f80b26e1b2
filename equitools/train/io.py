"""Output files: the Lightning checkpoint plugin that writes through
:func:`equitools.atomic.atomic_write` (a killed run never leaves a half-written checkpoint), and
the check that an output folder can be written before any work starts."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from ..atomic import atomic_write


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoints written through :func:`atomic_write` (local files)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options, got {storage_options!r}")
        atomic_write(path, lambda handle: torch.save(checkpoint, handle))


def writable_folder(path: str | Path, key: str) -> Path:
    """Create the folder ``path`` and probe-write a file in it, so that an output folder that
    cannot be written fails at once; ``OSError`` naming ``key`` and the path otherwise."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise OSError(f"{key} {path}: cannot write there ({err.strerror or err})") from err
    return path
