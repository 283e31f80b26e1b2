"""The Lightning checkpoint plugin that writes through :func:`equitools.atomic.atomic_write`, so a
killed run never leaves a half-written checkpoint."""

from __future__ import annotations

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
