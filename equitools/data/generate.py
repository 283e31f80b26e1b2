"""Reference data from Langevin MD with GFN2-xTB (``tblite``'s ASE calculator), written as an
npz in the rMD17 schema (``nuclear_charges``, ``coords`` Å, ``energies`` kcal/mol, ``forces``
kcal/mol/Å, like the published files), so :func:`~equitools.data.rmd17.read_rmd17` reads it."""

from __future__ import annotations

from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import ase.build
import ase.io
import numpy as np
import torch
from ase import Atoms, units
from ase.constraints import FixCom
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, ZeroRotation
from tqdm import tqdm

from ..atomic import atomic_write
from ..extras import require
from .units import KCAL_PER_MOL

ALIASES = {
    "ethanol": "CH3CH2OH",
    "methanol": "CH3OH",
    "methane": "CH4",
    "water": "H2O",
    "ammonia": "NH3",
    "benzene": "C6H6",
    "acetone": "CH3COCH3",
    "formaldehyde": "H2CO",
    "acetic acid": "CH3COOH",
}
"""Common names accepted besides ``ase.build.molecule``'s own (G2 formulas such as ``CH3CH2OH``)."""


def load_structure(spec: str | Path) -> Atoms:
    """A structure file (the first frame of anything ``ase.io`` reads) or an ``ase.build.molecule`` name."""
    if Path(spec).is_file():
        return ase.io.read(spec, index=0)
    name = ALIASES.get(str(spec).lower(), str(spec))
    try:
        return ase.build.molecule(name)
    except KeyError:
        raise ValueError(
            f"{spec!r} is neither a file nor a molecule name of ase.build.molecule "
            f"(e.g. CH3CH2OH, C6H6) or an alias ({', '.join(ALIASES)})"
        ) from None


def generate(
    atoms: Atoms,
    out: str | Path,
    *,
    n_frames: int = 1000,
    temperature_K: float = 500.0,
    timestep_fs: float = 0.5,
    friction_per_fs: float = 0.01,
    interval: int = 10,
    equilibration_steps: int = 2000,
    seed: int = 0,
    method: str = "GFN2-xTB",
    accuracy: float = 0.01,
    name: str | None = None,
    progress: bool = True,
) -> Path:
    """Run Langevin MD on ``atoms`` with ``method`` (tblite) and write ``n_frames`` frames to ``out``.

    Velocities start Maxwell–Boltzmann at ``temperature_K`` (seeded); after
    ``equilibration_steps`` steps of ``timestep_fs`` one frame is kept every ``interval`` steps.
    ``accuracy`` is tblite's SCF accuracy (smaller is tighter; 0.01 makes the stored forces
    reproducible to ~1e-6 eV/Å at the cost of the default 1.0, whose forces scatter by ~1e-4).
    The file is written atomically (nothing appears if the run fails or is interrupted) and
    also holds the run's settings as scalar entries (``theory``, ``temperature_K``, ...).
    tblite runs on one OpenMP thread (see :func:`one_openmp_thread`).
    """
    for label, value in (
        ("n_frames", n_frames),
        ("interval", interval),
        ("temperature_K", temperature_K),
        ("timestep_fs", timestep_fs),
        ("friction_per_fs", friction_per_fs),
    ):
        if not value > 0:
            raise ValueError(f"{label} must be positive, got {value}")
    if equilibration_steps < 0:
        raise ValueError(f"equilibration_steps must not be negative, got {equilibration_steps}")
    TBLite = require("tblite.ase", "xtb", "generating reference data (tblite)").TBLite

    atoms = atoms.copy()
    atoms.set_constraint(FixCom())  # no drift; recorded forces are the unconstrained ones
    atoms.calc = TBLite(method=method, accuracy=accuracy, verbosity=0)
    rng = np.random.default_rng(seed)
    sigma = np.sqrt(atoms.get_masses() * units.kB * temperature_K)  # Maxwell–Boltzmann momenta
    atoms.set_momenta(rng.standard_normal((len(atoms), 3)) * sigma[:, None])
    Stationary(atoms)
    ZeroRotation(atoms)
    dynamics = Langevin(
        atoms,
        timestep=timestep_fs * units.fs,
        temperature_K=temperature_K,
        friction=friction_per_fs / units.fs,
        fixcm=False,
        rng=rng,
    )

    coords = np.empty((n_frames, len(atoms), 3))
    energies, forces = np.empty(n_frames), np.empty((n_frames, len(atoms), 3))
    total = equilibration_steps + n_frames * interval
    bar = tqdm(total=total, unit="step", desc=f"{method} MD {atoms.get_chemical_formula()}", disable=not progress)
    with bar, one_openmp_thread():
        for chunk in np.diff(np.r_[0:equilibration_steps:100, equilibration_steps]).astype(int):
            dynamics.run(int(chunk))
            bar.update(int(chunk))
        for k in range(n_frames):
            dynamics.run(interval)
            bar.update(interval)
            coords[k] = atoms.positions
            energies[k] = atoms.get_potential_energy() / KCAL_PER_MOL
            forces[k] = atoms.get_forces(apply_constraint=False) / KCAL_PER_MOL
    if not (np.isfinite(energies).all() and np.isfinite(forces).all() and np.isfinite(coords).all()):
        raise RuntimeError("MD produced non-finite energies, forces or positions; nothing written")

    arrays = {
        "nuclear_charges": atoms.numbers.astype(np.uint8),
        "coords": coords,
        "energies": energies,
        "forces": forces,
        "theory": np.array(f"{method} (tblite {version('tblite')}, accuracy {accuracy:g})"),
        "name": np.array(name or atoms.get_chemical_formula()),
        "temperature_K": np.array(float(temperature_K)),
        "timestep_fs": np.array(float(timestep_fs)),
        "friction_per_fs": np.array(float(friction_per_fs)),
        "interval": np.array(int(interval)),
        "equilibration_steps": np.array(int(equilibration_steps)),
        "seed": np.array(int(seed)),
    }
    return atomic_write(out, lambda f: np.savez_compressed(f, **arrays))


@contextmanager
def one_openmp_thread():
    """Run tblite's OpenMP loops on one thread (one process per core scales; threads on a busy
    machine spin and slow MD down tenfold). tblite links ``libgomp.so.1``; torch, imported by
    equitools first, ships a library of that name, so both share one OpenMP runtime that started
    with torch's thread count before ``OMP_NUM_THREADS`` could be set. ``torch.set_num_threads``
    sets that runtime's count; the previous count is restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
