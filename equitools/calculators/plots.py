"""Plot of an MD run: total-energy deviation, potential and kinetic energy, and temperature
against time."""

from __future__ import annotations

from pathlib import Path

from ..plotting import pyplot, save_figure
from .md import MDReport


def md_figure(report: MDReport):
    """Three panels against time (ps), sharing it, as a matplotlib Figure:

    1. E_tot - E_tot(0) per atom (meV/atom), with the linear fit whose slope is the drift;
    2. E_pot - E_pot(0) and E_kin (eV, the whole system);
    3. the temperature (K).

    The title names the integrator and the drift (meV/atom/ps; "n/a" with fewer than two
    frames), and why the run stopped early if it did. Under a thermostat (langevin) the total
    energy is not conserved, and the title says so.
    """
    plt = pyplot()
    fig, (ax_dev, ax_e, ax_t) = plt.subplots(3, 1, sharex=True, figsize=(7, 7.5))
    time = report.time_ps
    deviation = 1000 * (report.total - report.total[0]) / report.n_atoms
    ax_dev.plot(time, deviation, color="k", label="E_tot - E_tot(0)")
    drift = report.drift_meV_per_atom_ps
    if drift is not None:  # the least-squares line passes through the means
        ax_dev.plot(
            time,
            deviation.mean() + drift * (time - time.mean()),
            "--",
            color="tab:red",
            label=f"linear fit: {drift:+.3g} meV/atom/ps",
        )
    ax_dev.set_ylabel("total-energy deviation\n(meV/atom)")
    ax_dev.legend(fontsize=8)
    ax_e.plot(time, report.potential - report.potential[0], label="potential: E_pot - E_pot(0)")
    ax_e.plot(time, report.kinetic, label="kinetic: E_kin")
    ax_e.set_ylabel("energy (eV)")
    ax_e.legend(fontsize=8)
    ax_t.plot(time, report.temperature, color="tab:green")
    ax_t.set_ylabel("temperature (K)")
    ax_t.set_xlabel("time (ps)")
    for ax in (ax_dev, ax_e, ax_t):
        ax.grid(alpha=0.3)
    title = f"{report.integrator} MD of {report.n_atoms} atoms: total-energy drift " + (
        "n/a" if drift is None else f"{drift:+.3g} meV/atom/ps"
    )
    if report.integrator != "verlet":
        title += "\n(thermostat: the total energy is not conserved)"
    if report.stopped:
        title += f"\nstopped early: {report.stopped}"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_md(report: MDReport, output: str | Path) -> Path:
    """:func:`md_figure` of ``report`` saved as PNG at ``output``; returns its path."""
    return save_figure(md_figure(report), output)
