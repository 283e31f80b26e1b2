"""The MD plot shows the total-energy deviation per atom on its own axis with the drift in the
title; the learning curves count epochs from 1 with integer ticks."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from equitools.calculators.md import MDReport
from equitools.calculators.plots import md_figure, plot_md
from equitools.train.plots import learning_curves_figure, plot_learning_curves, pyplot


def report(frames: int = 41, stopped: str | None = None) -> MDReport:
    """A 9-atom NVE run of ``frames`` frames over 0.2 ps: E_pot and E_kin swap ~0.3 eV, and the
    total drifts by 5 meV/atom/ps with a small wiggle."""
    time = np.linspace(0.0, 0.2, frames)
    kinetic = 0.35 + 0.3 * np.sin(40 * time) ** 2
    total = -4200.0 + 9 * 5e-3 * time + 2e-4 * np.sin(200 * time)
    return MDReport(
        "verlet",
        steps=(frames - 1) * 5,
        timestep_fs=1.0,
        n_atoms=9,
        time_ps=time,
        potential=total - kinetic,
        kinetic=kinetic,
        total=total,
        temperature=300 + 800 * (kinetic - 0.35),
        stopped=stopped,
    )


@pytest.fixture
def close():
    figures = []
    yield figures.append
    for fig in figures:
        pyplot().close(fig)


def test_md_plot_has_an_axis_for_the_total_energy_deviation_in_meV_per_atom(close):
    run = report()
    fig = md_figure(run)
    close(fig)
    deviation, energies, temperature = fig.axes
    assert "meV/atom" in deviation.get_ylabel()
    assert energies.get_ylabel() == "energy (eV)" and temperature.get_ylabel() == "temperature (K)"
    assert temperature.get_xlabel() == "time (ps)"
    line, fit = deviation.get_lines()
    np.testing.assert_allclose(line.get_ydata(), (run.total - run.total[0]) / run.n_atoms * 1000)
    np.testing.assert_allclose(line.get_xdata(), run.time_ps)
    slope = np.polyfit(fit.get_xdata(), fit.get_ydata(), 1)[0]
    assert slope == pytest.approx(run.drift_meV_per_atom_ps) and slope == pytest.approx(5.0, rel=0.05)
    title = fig._suptitle.get_text()
    assert f"drift {run.drift_meV_per_atom_ps:+.3g} meV/atom/ps" in title and "stopped" not in title
    # the deviation axis is scaled to the deviation, not to the ~eV swings of E_pot and E_kin
    assert np.ptp(deviation.get_ylim()) < 10 * np.ptp(line.get_ydata())
    labels = [l.get_label() for l in energies.get_lines()]
    assert len(labels) == 2 and "potential" in labels[0] and "kinetic" in labels[1]


def test_md_plot_without_a_drift_and_stopped_early(close, tmp_path):
    fig = md_figure(report(frames=1, stopped="temperature 1e+04 K exceeds 3e+03 K at step 1 (1 fs)"))
    close(fig)
    title = fig._suptitle.get_text()
    assert "drift n/a" in title and "stopped early: temperature 1e+04 K" in title
    assert len(fig.axes[0].get_lines()) == 1  # no fit through a single frame
    path = plot_md(report(), tmp_path / "md.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def write_metrics(path, epochs: int) -> None:
    """A Lightning-like metrics.csv: per-step rows, then one validation and one training row per epoch."""
    columns = ["epoch", "step", "train_loss_step", "train_loss_epoch", "val_energy_mae", "val_forces_mae"]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        for epoch in range(epochs):
            writer.writerow({"epoch": epoch, "step": 4 * epoch + 3, "train_loss_step": 2.0 / (epoch + 1)})
            writer.writerow(
                {
                    "epoch": epoch,
                    "step": 4 * epoch + 3,
                    "val_energy_mae": 50 / (epoch + 1),
                    "val_forces_mae": 400 / (epoch + 1),
                }
            )
            writer.writerow({"epoch": epoch, "step": 4 * epoch + 3, "train_loss_epoch": 1.5 / (epoch + 1)})


@pytest.mark.parametrize("epochs", [1, 3, 7])
def test_learning_curves_count_epochs_from_one_with_integer_ticks(close, tmp_path, epochs):
    write_metrics(tmp_path / "metrics.csv", epochs)
    fig = learning_curves_figure(tmp_path / "metrics.csv", title="tiny run")
    close(fig)
    fig.canvas.draw()
    assert fig._suptitle.get_text() == "tiny run"
    assert [ax.get_ylabel() for ax in fig.axes] == [
        "validation energy MAE (meV)",
        "validation force MAE (meV/Å)",
        "training loss",
    ]
    for ax in fig.axes:
        assert ax.get_xlabel() == "epoch"
        assert list(ax.get_lines()[0].get_xdata()) == list(range(1, epochs + 1))
        low, high = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if low <= t <= high]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
    assert plot_learning_curves(tmp_path / "metrics.csv", tmp_path / "curves.png").is_file()
