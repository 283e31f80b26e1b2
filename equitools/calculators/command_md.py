"""``equitools md CHECKPOINT STRUCTURE``: MD with a trained potential; trajectory, report, plot."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .md import INTEGRATORS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="model file (model.pt), run folder, or training checkpoint (.ckpt)")
    parser.add_argument("structure", help="start structure: any ase.io file, or an rMD17/MD17 .npz (a frame of it)")
    parser.add_argument("--index", type=int, default=0, help="frame of the structure file (default 0)")
    parser.add_argument("--integrator", choices=INTEGRATORS, default="verlet",
                        help="verlet (NVE, reports energy drift) or langevin (NVT)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--timestep", type=float, default=0.5, help="fs (default 0.5)")
    parser.add_argument("--temperature", type=float, default=300.0, help="initial/bath temperature, K")
    parser.add_argument("--friction", type=float, default=0.01, help="Langevin friction, 1/fs")
    parser.add_argument("--interval", type=int, default=10, help="steps between logged/written frames")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", default="md", help="folder for md.traj, md_report.json, md_energy.png")


def run(args: argparse.Namespace) -> int:
    try:
        summary = simulate(args)
    except (FileNotFoundError, ValueError) as err:
        print(f"equitools md: error: {err}", file=sys.stderr)
        return 1
    print(format_report(summary))
    return 0


def simulate(args: argparse.Namespace) -> dict:
    from equitools.atomic import atomic_write_text

    from .ase import EquiCalculator
    from .md import run_md
    from .plots import plot_md
    from .structures import read_structure

    calculator = EquiCalculator(args.checkpoint)
    atoms = read_structure(args.structure, args.index)
    out = Path(args.output)
    report = run_md(atoms, calculator, args.steps, args.timestep, args.temperature, args.integrator,
                    args.friction, args.interval, out / "md.traj", args.seed)
    summary = {**report.summary(), "checkpoint": str(args.checkpoint), "structure": str(args.structure),
               "plot": str(out / "md_energy.png")}
    atomic_write_text(out / "md_report.json", json.dumps(summary, indent=2))
    plot_md(report, out / "md_energy.png")
    return summary


def format_report(summary: dict) -> str:
    """The MD report as text."""
    lines = [f"{summary['integrator']} MD: {summary['steps']} steps of {summary['timestep_fs']} fs "
             f"({summary['simulated_ps']:.3f} ps), {summary['n_atoms']} atoms",
             f"temperature: {summary['temperature_mean_K']:.1f} ± {summary['temperature_std_K']:.1f} K"]
    if summary["integrator"] == "verlet":
        lines.append(f"NVE total-energy drift: {summary['drift_meV_per_atom_ps']:+.3f} meV/atom/ps "
                     f"(max |ΔE| {summary['max_deviation_meV_per_atom']:.3f} meV/atom)")
    lines += [f"trajectory: {summary['trajectory']}", f"plot: {summary['plot']}"]
    return "\n".join(lines)
