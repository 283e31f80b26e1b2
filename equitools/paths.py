"""Where data lives: the small data shipped with the package (``EMBEDDED_DATA``) and the real data
sets, one setting ``EQUITOOLS_DATA`` (default ``../shared/data`` beside the checkout)."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The source checkout that holds the package (``benchmarks/``, ``configs/``); for an installed
wheel, the site-packages folder."""

EMBEDDED_DATA = Path(files("equitools._data"))
"""Small data the project makes itself (generated sets, precomputed matrices): the checkout's
``data/`` folder, installed as the package data ``equitools._data``."""


def shared_data_dir() -> Path | None:
    """The real-data folder: ``$EQUITOOLS_DATA``, else ``../shared/data`` if present, else None."""
    env = os.environ.get("EQUITOOLS_DATA")
    if env:
        return Path(env)
    default = PROJECT_ROOT.parent / "shared" / "data"
    return default if default.is_dir() else None
