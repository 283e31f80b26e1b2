"""``equitools data``: inspect data files, and generate GFN2-xTB reference data.

    equitools data info PATH [--format ...]
    equitools data generate ethanol -o data/ethanol_xtb_500K.npz --frames 1000 --temperature 500
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from equitools.nn.scatter import scatter_sum
from equitools.safe_npz import READ_ERRORS, open_npz

from .errors import DataFormatError
from .units import ENERGY_UNITS

FORMATS = ("auto", "rmd17", "md17", "qm9", "extxyz")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    info = sub.add_parser("info", help="load a data file (any supported format) and summarise it")
    info.add_argument("path", help="rMD17/MD17 .npz, QM9 CSV / raw folder / archive, or any ase.io file")
    info.add_argument("--format", choices=FORMATS, default="auto", help="default: guessed from the file")
    info.add_argument("--energy-key", default="energy", help="extxyz: energy label (default: energy)")
    info.add_argument("--forces-key", default="forces", help="extxyz: forces label (default: forces)")
    info.add_argument("--energy-unit", default="eV", choices=list(ENERGY_UNITS), help="extxyz: file's energy unit")
    info.add_argument("--no-cache", action="store_true", help="do not read or write the processed cache")

    gen = sub.add_parser("generate", help="Langevin MD with GFN2-xTB (tblite); frames in the rMD17 npz schema")
    gen.add_argument("structure", help="a molecule name (ase.build.molecule, e.g. CH3CH2OH, or ethanol) or a structure file")
    gen.add_argument("-o", "--output", required=True, help="output .npz (written atomically)")
    gen.add_argument("--frames", type=int, default=1000, help="frames to keep (default 1000)")
    gen.add_argument("--temperature", type=float, default=500.0, help="K (default 500)")
    gen.add_argument("--timestep", type=float, default=0.5, help="fs (default 0.5)")
    gen.add_argument("--friction", type=float, default=0.01, help="Langevin friction, 1/fs (default 0.01)")
    gen.add_argument("--interval", type=int, default=10, help="MD steps between kept frames (default 10)")
    gen.add_argument("--equilibration", type=int, default=2000, help="MD steps before the first frame (default 2000)")
    gen.add_argument("--seed", type=int, default=0, help="velocities and Langevin noise (default 0)")
    gen.add_argument("--method", default="GFN2-xTB", help="tblite method (default GFN2-xTB)")
    gen.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    try:
        return _generate(args) if args.action == "generate" else _info(args)
    except (DataFormatError, FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"equitools data {args.action}: error: {exc}", file=sys.stderr)
        return 1


def _generate(args) -> int:
    from .generate import generate, load_structure

    atoms = load_structure(args.structure)
    path = generate(atoms, args.output, n_frames=args.frames, temperature_K=args.temperature,
                    timestep_fs=args.timestep, friction_per_fs=args.friction, interval=args.interval,
                    equilibration_steps=args.equilibration, seed=args.seed, method=args.method,
                    name=Path(args.structure).stem if Path(args.structure).is_file() else args.structure,
                    progress=not args.no_progress)
    print(f"wrote {args.frames} frames of {atoms.get_chemical_formula()} to {path}")
    return 0


def guess_format(path: Path) -> str:
    """The loader for ``path``: md17 for an npz with any sGDML key (``R``, ``E``, ``F``), else
    rmd17; qm9 for CSVs, folders and tar archives; else extxyz (anything ase.io reads)."""
    if path.suffix == ".npz":
        try:
            with open_npz(path) as archive:
                return "md17" if {"R", "E", "F"} & set(archive.files) else "rmd17"
        except READ_ERRORS:
            return "rmd17"  # the loader reports what is wrong with the file
    if path.is_dir() or path.suffix == ".csv" or ".tar" in path.suffixes:
        return "qm9"
    return "extxyz"


def load(path: str | Path, format: str = "auto", **options):
    """Load ``path`` with the loader for ``format`` (``"auto"``: :func:`guess_format`)."""
    from .extxyz import ExtXYZ
    from .md17 import read_md17
    from .qm9 import QM9
    from .rmd17 import read_rmd17

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    format = guess_format(path) if format == "auto" else format
    cache = {k: options.pop(k) for k in ("cache_dir", "use_cache") if k in options}
    if format == "extxyz":
        return ExtXYZ(path, **options, **cache)
    loader = {"rmd17": read_rmd17, "md17": read_md17, "qm9": QM9}[format]
    return loader(path, **cache)


def summary(dataset) -> list[str]:
    """Lines describing a dataset: frames, atoms, elements, energy and force statistics."""
    from ase.data import chemical_symbols

    frames = dataset.frames
    n_atoms = dataset.n_atoms
    elements = sorted(set(frames.z.tolist()))
    lines = [f"format:    {dataset.metadata.get('format')}",
             f"source:    {dataset.metadata.get('source')}",
             f"frames:    {len(dataset)}",
             f"atoms:     {int(n_atoms.min())}..{int(n_atoms.max())} per frame" if n_atoms.min() != n_atoms.max()
             else f"atoms:     {int(n_atoms[0])} per frame",
             f"elements:  {' '.join(chemical_symbols[z] for z in elements)}"]
    if frames.energy is not None:
        e = frames.energy
        lines.append(f"energy:    mean {e.mean():.4f} eV, std {e.std():.4f} eV, range [{e.min():.4f}, {e.max():.4f}] eV")
    if frames.forces is not None:
        norms = frames.forces.norm(dim=1)
        frame_of_atom = torch.repeat_interleave(torch.arange(len(frames)), frames.ptr[1:] - frames.ptr[:-1])
        net = scatter_sum(frames.forces, frame_of_atom, len(frames)).norm(dim=1)
        lines.append(f"forces:    |F| mean {norms.mean():.4f} eV/Å, max {norms.max():.4f} eV/Å; "
                     f"max |ΣF| per frame {net.max():.2e} eV/Å")
    units = dataset.metadata.get("units", {})
    lines.append("units:     " + ", ".join(f"{k} {v}" for k, v in units.items()))
    for key, value in dataset.metadata.get("attributes", {}).items():
        lines.append(f"{key + ':':<10} {value}")
    return lines


def _info(args) -> int:
    options = {"use_cache": not args.no_cache}
    if args.format in ("auto", "extxyz"):
        options.update(energy_key=args.energy_key, forces_key=args.forces_key, energy_unit=args.energy_unit)
    dataset = load(args.path, args.format, **options)
    print("\n".join(summary(dataset)))
    return 0
