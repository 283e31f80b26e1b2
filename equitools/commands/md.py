"""``equitools md CHECKPOINT STRUCTURE``: MD with a trained potential; trajectory, report, plot.

Exit codes: 0 a complete run; 1 a file or model problem; 2 a bad argument; 3 the blow-up check
stopped the run (the report, the plot and the trajectory up to the stop are still written)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..calculators.md_arguments import ARGUMENTS, INTEGRATORS, MAX_FORCE_EV_PER_A
from ..ranges import argument
from .output import add_output_option

NUMERIC_OPTIONS = (
    ("--steps", "steps", 1000, "N", "MD steps (default 1000)"),
    ("--timestep", "timestep_fs", 0.5, "FS", "time step, fs (default 0.5 fs)"),
    (
        "--temperature",
        "temperature_K",
        300.0,
        "K",
        "initial (verlet) or bath (langevin) temperature, K (default 300 K)",
    ),
    ("--friction", "friction_per_fs", 0.01, "PER_FS", "Langevin friction, 1/fs (default 0.01 1/fs)"),
    ("--interval", "interval", 10, "N", "steps between logged/written frames, at most --steps (default 10)"),
    ("--seed", "seed", 0, "N", "seed of the initial velocities and the Langevin noise (default 0)"),
    (
        "--max-force",
        "max_force_eV_per_A",
        MAX_FORCE_EV_PER_A,
        "EV_PER_A",
        f"blow-up check: stop when a force exceeds this, eV/Å (default {MAX_FORCE_EV_PER_A:g} eV/Å)",
    ),
    (
        "--max-temperature",
        "max_temperature_K",
        None,
        "K",
        "blow-up check: stop above this temperature, K (default max(10 T, T + 1000 K) for --temperature T)",
    ),
)
"""The numeric options: (flag, key of ``ARGUMENTS`` giving the range, default, metavar, help)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="model file (model.pt), run folder, or training checkpoint (.ckpt)")
    parser.add_argument("structure", help="start structure: any ase.io file, or an rMD17/MD17 .npz (a frame of it)")
    parser.add_argument(
        "--index",
        type=int,
        default=0,
        metavar="I",
        help="frame of the structure file (default 0; negative: from the end)",
    )
    parser.add_argument(
        "--integrator",
        choices=INTEGRATORS,
        default="verlet",
        help="verlet (NVE, reports energy drift) or langevin (NVT) (default verlet)",
    )
    for flag, key, default, metavar, text in NUMERIC_OPTIONS:
        parser.add_argument(flag, type=argument(ARGUMENTS[key]), default=default, metavar=metavar, help=text)
    add_output_option(parser, "md", "folder for md.traj, md_report.json, md_energy.png")


def run(args: argparse.Namespace) -> int:
    if args.interval > args.steps:
        print(
            f"equitools md: error: --interval must be <= --steps ({args.steps}), got {args.interval}", file=sys.stderr
        )
        return 2
    try:
        report = simulate(args)
        summary = write_outputs(report, args)
    except (OSError, ValueError) as err:
        print(f"equitools md: error: {err}", file=sys.stderr)
        return 1
    print(format_report(summary))
    if report.stopped:
        print(
            f"equitools md: error: MD stopped: {report.stopped}; the frames before it are in "
            f"{report.trajectory}, the report in {Path(args.output) / 'md_report.json'}",
            file=sys.stderr,
        )
        return 3
    return 0


def simulate(args: argparse.Namespace):
    """The ``MDReport`` of the MD run of ``args``; a run stopped by the blow-up check gives its
    report up to the stop."""
    from equitools.calculators.ase import EquiCalculator
    from equitools.calculators.md import MDBlowUpError, run_md
    from equitools.calculators.structures import read_structure

    calculator = EquiCalculator(args.checkpoint)
    atoms = read_structure(args.structure, args.index)
    try:
        return run_md(
            atoms,
            calculator,
            args.steps,
            args.timestep,
            args.temperature,
            args.integrator,
            args.friction,
            args.interval,
            Path(args.output) / "md.traj",
            args.seed,
            args.max_force,
            args.max_temperature,
        )
    except MDBlowUpError as err:
        return err.report


def write_outputs(report, args: argparse.Namespace) -> dict:
    """Write ``md_report.json`` and ``md_energy.png`` of ``report`` to ``args.output``; the summary."""
    from equitools.atomic import atomic_write_text
    from equitools.calculators.plots import plot_md

    out = Path(args.output)
    summary = {
        **report.summary(),
        "checkpoint": str(args.checkpoint),
        "structure": str(args.structure),
        "plot": str(out / "md_energy.png"),
    }
    atomic_write_text(out / "md_report.json", json.dumps(summary, indent=2))
    plot_md(report, out / "md_energy.png")
    return summary


def format_report(summary: dict) -> str:
    """The MD report as text."""
    lines = [
        f"{summary['integrator']} MD: {summary['steps']} steps of {summary['timestep_fs']} fs "
        f"({summary['simulated_ps']:.3f} ps), {summary['n_atoms']} atoms",
        f"temperature: {summary['temperature_mean_K']:.1f} ± {summary['temperature_std_K']:.1f} K",
    ]
    if summary["stopped"]:
        lines.insert(1, f"stopped early: {summary['stopped']}")
    if summary["integrator"] == "verlet":
        drift = summary["drift_meV_per_atom_ps"]
        lines.append(
            "NVE total-energy drift: "
            + (
                "not available (fewer than 2 logged frames)"
                if drift is None
                else f"{drift:+.3f} meV/atom/ps (max |ΔE| {summary['max_deviation_meV_per_atom']:.3f} meV/atom)"
            )
        )
    lines += [f"trajectory: {summary['trajectory']}", f"plot: {summary['plot']}"]
    return "\n".join(lines)
