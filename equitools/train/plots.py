"""Plots of a run: learning curves from the CSV log, and parity plots of predictions."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..plotting import pyplot, save_figure


def read_epoch_metrics(path: str | Path) -> dict[str, np.ndarray]:
    """Per-epoch columns of a Lightning ``metrics.csv``, or of every ``version_*/metrics.csv``
    under a folder (the segments of a resumed run; later segments win):
    ``{"epoch": (n,), name: (n,)}``, NaN where an epoch has no value; per-step rows left out.
    ``epoch`` is the CSV's own, Lightning's 0-based index (the plots and ``metrics.json`` count
    from 1: add 1)."""
    path = Path(path)
    files = (
        sorted(path.glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1]))
        if path.is_dir()
        else [path]
    )
    if not files or not files[0].is_file():
        raise FileNotFoundError(f"no metrics log at {path}")
    rows = []
    for file in files:
        with open(file, newline="", encoding="utf-8") as handle:
            rows.extend(csv.DictReader(handle))
    by_epoch: dict[int, dict[str, float]] = {}
    for row in rows:
        if not row.get("epoch"):
            continue
        epoch = int(float(row["epoch"]))
        values = by_epoch.setdefault(epoch, {})
        for key, text in row.items():
            if key not in ("epoch", "step") and text not in (None, "") and not key.endswith("_step"):
                values[key] = float(text)
    epochs = sorted(by_epoch)
    names = sorted({k for v in by_epoch.values() for k in v})
    out = {"epoch": np.array(epochs)}
    for name in names:
        out[name] = np.array([by_epoch[e].get(name, np.nan) for e in epochs])
    return out


def learning_curves_figure(metrics_csv: str | Path, unit: str = "eV", title: str = "learning curves"):
    """Validation energy/force MAE (m``unit``, m``unit``/Å) and training loss against the epoch
    (counted from 1, integer ticks; log-scaled values), one panel each, as a matplotlib Figure.
    ``metrics_csv``: as for :func:`read_epoch_metrics`."""
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    columns = read_epoch_metrics(metrics_csv)
    panels = [
        ("val_energy_mae", f"validation energy MAE (m{unit})"),
        ("val_forces_mae", f"validation force MAE (m{unit}/Å)"),
        ("train_loss_epoch", "training loss"),
    ]
    panels = [p for p in panels if p[0] in columns]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4), squeeze=False)
    for ax, (key, label) in zip(axes[0], panels):
        keep = np.isfinite(columns[key])
        ax.plot(columns["epoch"][keep] + 1, columns[key][keep], marker=".")
        ax.set_xlim(0.5, columns["epoch"][-1] + 1.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_learning_curves(
    metrics_csv: str | Path, output: str | Path, unit: str = "eV", title: str = "learning curves"
) -> Path:
    """:func:`learning_curves_figure` saved as PNG at ``output``; returns its path."""
    return save_figure(learning_curves_figure(metrics_csv, unit, title), output)


def plot_parity(
    reference: dict[str, np.ndarray],
    predicted: dict[str, np.ndarray],
    output: str | Path,
    unit: str = "eV",
    title: str | None = None,
) -> Path:
    """Predicted vs reference energies (both shifted by the mean reference energy) and force
    components, saved as PNG."""
    plt = pyplot()
    keys = [k for k in ("energy", "forces") if k in reference and k in predicted]
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 4), squeeze=False)
    for ax, key in zip(axes[0], keys):
        ref, pred = np.ravel(reference[key]), np.ravel(predicted[key])
        if key == "energy":
            offset = ref.mean()
            ref, pred = ref - offset, pred - offset
        mae = 1000 * np.mean(np.abs(pred - ref))
        ax.scatter(ref, pred, s=4, alpha=0.5)
        bounds = [min(ref.min(), pred.min()), max(ref.max(), pred.max())]
        ax.plot(bounds, bounds, color="k", lw=0.8)
        label = f"E - <E> ({unit})" if key == "energy" else f"F ({unit}/Å)"
        ax.set_xlabel(f"reference {label}")
        ax.set_ylabel(f"predicted {label}")
        ax.set_title(f"{key}: MAE {mae:.3g} m{unit}{'/Å' if key == 'forces' else ''}")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, output)
