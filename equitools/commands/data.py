"""``equitools data``: inspect data files, and generate GFN2-xTB reference data.

equitools data info PATH [--format ...]
equitools data generate ethanol -o data/ethanol_xtb_500K.npz --frames 1000 --temperature 500
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .progress import add_progress_option, show_progress


def add_read_options(parser: argparse.ArgumentParser) -> None:
    """The options of reading a data file (used with :func:`read_data`)."""
    parser.add_argument(
        "--format",
        default="auto",
        metavar="NAME",
        help="rmd17, md17, qm9 or extxyz (default auto: guessed from the file)",
    )
    parser.add_argument(
        "--energy-key", default="energy", metavar="KEY", help="extxyz: the energy entry of a frame (default energy)"
    )
    parser.add_argument(
        "--forces-key", default="forces", metavar="KEY", help="extxyz: the forces entry of an atom (default forces)"
    )
    parser.add_argument(
        "--energy-unit",
        default="eV",
        metavar="UNIT",
        help="extxyz: the file's energy unit, eV, meV, kcal/mol, kJ/mol or Hartree (default eV); forces in UNIT/Å",
    )


def read_data(path: str | Path, args: argparse.Namespace, **options):
    """``(dataset, format)`` of ``path`` read as :func:`add_read_options`' options in ``args`` say."""
    from equitools.data import guess_format, read

    fmt = guess_format(path) if args.format == "auto" else args.format
    if fmt == "extxyz":
        options.update(energy_key=args.energy_key, forces_key=args.forces_key, energy_unit=args.energy_unit)
    return read(path, fmt, **options), fmt


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    info = sub.add_parser("info", help="load a data file (any supported format) and summarise it")
    info.add_argument("path", help="rMD17/MD17 .npz, QM9 CSV / raw folder / archive, or any ase.io file")
    add_read_options(info)
    info.add_argument(
        "--no-cache", action="store_true", help="do not read or write the processed cache (default: use it)"
    )

    gen = sub.add_parser("generate", help="Langevin MD with GFN2-xTB (tblite); frames in the rMD17 npz schema")
    gen.add_argument(
        "structure", help="a molecule name (ase.build.molecule, e.g. CH3CH2OH, or ethanol) or a structure file"
    )
    gen.add_argument("-o", "--output", required=True, metavar="FILE", help="output .npz (written atomically)")
    gen.add_argument("--frames", type=int, default=1000, metavar="N", help="frames to keep (default 1000)")
    gen.add_argument("--temperature", type=float, default=500.0, metavar="K", help="temperature, K (default 500 K)")
    gen.add_argument("--timestep", type=float, default=0.5, metavar="FS", help="MD time step, fs (default 0.5 fs)")
    gen.add_argument(
        "--friction", type=float, default=0.01, metavar="PER_FS", help="Langevin friction, 1/fs (default 0.01 1/fs)"
    )
    gen.add_argument("--interval", type=int, default=10, metavar="N", help="MD steps between kept frames (default 10)")
    gen.add_argument(
        "--equilibration", type=int, default=2000, metavar="N", help="MD steps before the first frame (default 2000)"
    )
    gen.add_argument(
        "--seed", type=int, default=0, metavar="N", help="seed of velocities and Langevin noise (default 0)"
    )
    gen.add_argument("--method", default="GFN2-xTB", help="tblite method (default GFN2-xTB)")
    add_progress_option(gen)


def run(args: argparse.Namespace) -> int:
    try:
        return _generate(args) if args.action == "generate" else _info(args)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:  # a DataFormatError is a ValueError
        print(f"equitools data {args.action}: error: {exc}", file=sys.stderr)
        return 1


def _generate(args: argparse.Namespace) -> int:
    from equitools.data.generate import generate, load_structure

    atoms = load_structure(args.structure)
    path = generate(
        atoms,
        args.output,
        n_frames=args.frames,
        temperature_K=args.temperature,
        timestep_fs=args.timestep,
        friction_per_fs=args.friction,
        interval=args.interval,
        equilibration_steps=args.equilibration,
        seed=args.seed,
        method=args.method,
        name=Path(args.structure).stem if Path(args.structure).is_file() else args.structure,
        progress=show_progress(args),
    )
    print(f"wrote {args.frames} frames of {atoms.get_chemical_formula()} to {path}")
    return 0


def _info(args: argparse.Namespace) -> int:
    dataset, _ = read_data(args.path, args, use_cache=not args.no_cache)
    print("\n".join(summary(dataset)))
    return 0


def summary(dataset) -> list[str]:
    """Lines describing a dataset: frames, atoms, elements, energy and force statistics."""
    import torch
    from ase.data import chemical_symbols

    from equitools.nn.scatter import scatter_sum

    frames = dataset.frames
    n_atoms = dataset.n_atoms
    elements = sorted(set(frames.z.tolist()))
    lines = [
        f"format:    {dataset.metadata.get('format')}",
        f"source:    {dataset.metadata.get('source')}",
        f"frames:    {len(dataset)}",
        f"atoms:     {int(n_atoms.min())}..{int(n_atoms.max())} per frame"
        if n_atoms.min() != n_atoms.max()
        else f"atoms:     {int(n_atoms[0])} per frame",
        f"elements:  {' '.join(chemical_symbols[z] for z in elements)}",
    ]
    if frames.energy is not None:
        e = frames.energy
        lines.append(
            f"energy:    mean {e.mean():.4f} eV, std {e.std():.4f} eV, range [{e.min():.4f}, {e.max():.4f}] eV"
        )
    if frames.forces is not None:
        norms = frames.forces.norm(dim=1)
        frame_of_atom = torch.repeat_interleave(torch.arange(len(frames)), frames.ptr[1:] - frames.ptr[:-1])
        net = scatter_sum(frames.forces, frame_of_atom, len(frames)).norm(dim=1)
        lines.append(
            f"forces:    |F| mean {norms.mean():.4f} eV/Å, max {norms.max():.4f} eV/Å; "
            f"max |ΣF| per frame {net.max():.2e} eV/Å"
        )
    units = dataset.metadata.get("units", {})
    lines.append("units:     " + ", ".join(f"{k} {v}" for k, v in units.items()))
    for key, value in dataset.metadata.get("attributes", {}).items():
        lines.append(f"{key + ':':<10} {value}")
    return lines
