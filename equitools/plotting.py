"""Matplotlib without a display, and PNGs written atomically: shared by the plots of training,
evaluation and MD."""

from __future__ import annotations

import io
from pathlib import Path

from .atomic import atomic_write


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, output: str | Path) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    pyplot().close(fig)
    return atomic_write(output, lambda handle: handle.write(buffer.getvalue()))
