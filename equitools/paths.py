"""Where real data sets live: one setting, ``EQUITOOLS_DATA``.

Defaults to ``../shared/data`` beside the project checkout when that folder exists.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout (or install prefix) that holds the package."""

EMBEDDED_DATA = PROJECT_ROOT / "data"
"""Small data the project makes itself (generated sets, precomputed matrices)."""


def shared_data_dir() -> Path | None:
    """The real-data folder: ``$EQUITOOLS_DATA``, else ``../shared/data`` if present, else None."""
    env = os.environ.get("EQUITOOLS_DATA")
    if env:
        return Path(env)
    default = PROJECT_ROOT.parent / "shared" / "data"
    return default if default.is_dir() else None
