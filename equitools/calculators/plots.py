"""Plot of an MD run: energies and temperature against time."""

from __future__ import annotations

from pathlib import Path

from equitools.train.plots import pyplot, save_figure

from .md import MDReport


def plot_md(report: MDReport, output: str | Path) -> Path:
    """Potential, kinetic and total energy (eV, relative to the first frame's total) and the
    temperature (K) against time (ps), saved as PNG."""
    plt = pyplot()
    fig, (ax_e, ax_t) = plt.subplots(1, 2, figsize=(9, 3.4))
    ref = report.total[0]
    for values, label in ((report.potential, "potential"), (report.kinetic, "kinetic"), (report.total, "total")):
        ax_e.plot(report.time_ps, values - (ref if label != "kinetic" else 0.0), label=label)
    ax_e.set_xlabel("time (ps)")
    ax_e.set_ylabel("energy - E_tot(0) (eV); kinetic as is")
    drift = report.drift_meV_per_atom_ps
    ax_e.set_title(f"{report.integrator}: E_tot drift " + ("n/a" if drift is None else f"{drift:+.3g} meV/atom/ps")
                   + (" (stopped early)" if report.stopped else ""), fontsize=10)
    ax_e.legend(fontsize=8)
    ax_t.plot(report.time_ps, report.temperature)
    ax_t.set_xlabel("time (ps)")
    ax_t.set_ylabel("temperature (K)")
    for ax in (ax_e, ax_t):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, output)
