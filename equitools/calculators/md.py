"""Molecular dynamics with ASE (Langevin or velocity Verlet), a trajectory file, and a report of
the temperature and the total-energy drift."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.io.trajectory import Trajectory
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary, ZeroRotation
from ase.md.verlet import VelocityVerlet

INTEGRATORS = ("verlet", "langevin")


@dataclass
class MDReport:
    """What happened in a run. Arrays per logged frame: time (ps), potential/kinetic/total
    energy (eV), temperature (K). ``drift_meV_per_atom_ps``: slope of a linear fit of the
    total energy per atom (NVE: a measure of integration error); ``max_deviation_meV_per_atom``:
    largest |E_tot - E_tot(0)| per atom."""

    integrator: str
    steps: int
    timestep_fs: float
    n_atoms: int
    time_ps: np.ndarray
    potential: np.ndarray
    kinetic: np.ndarray
    total: np.ndarray
    temperature: np.ndarray
    trajectory: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def drift_meV_per_atom_ps(self) -> float:
        if len(self.time_ps) < 2:
            return 0.0
        return float(1000 * np.polyfit(self.time_ps, self.total / self.n_atoms, 1)[0])

    @property
    def max_deviation_meV_per_atom(self) -> float:
        return float(1000 * np.max(np.abs(self.total - self.total[0])) / self.n_atoms)

    def summary(self) -> dict:
        """Scalars of the report (JSON-ready)."""
        return {"integrator": self.integrator, "steps": self.steps, "timestep_fs": self.timestep_fs,
                "n_atoms": self.n_atoms, "simulated_ps": float(self.time_ps[-1]) if len(self.time_ps) else 0.0,
                "temperature_mean_K": float(np.mean(self.temperature)),
                "temperature_std_K": float(np.std(self.temperature)),
                "drift_meV_per_atom_ps": self.drift_meV_per_atom_ps,
                "max_deviation_meV_per_atom": self.max_deviation_meV_per_atom,
                "trajectory": self.trajectory, **self.extra}


def run_md(atoms: Atoms, calculator, steps: int, timestep_fs: float = 0.5, temperature_K: float = 300.0,
           integrator: str = "verlet", friction_per_fs: float = 0.01, interval: int = 10,
           trajectory: str | os.PathLike | None = None, seed: int = 0) -> MDReport:
    """Run ``steps`` MD steps of ``atoms`` (a copy) with ``calculator``.

    Velocities start from Maxwell–Boltzmann at ``temperature_K`` (no net momentum or rotation).
    ``integrator``: "verlet" (NVE) or "langevin" (NVT, ``friction_per_fs``). Every ``interval``
    steps a frame is logged and, with ``trajectory``, written to that ASE ``.traj`` file (which
    appears only when the run completes).
    """
    if integrator not in INTEGRATORS:
        raise ValueError(f"integrator must be one of {INTEGRATORS}, got {integrator!r}")
    if steps < 1 or interval < 1:
        raise ValueError(f"steps and interval must be >= 1, got {steps} and {interval}")
    atoms = atoms.copy()
    atoms.calc = calculator
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=rng)
    Stationary(atoms)
    if len(atoms) > 2:
        ZeroRotation(atoms)
    dt = timestep_fs * units.fs
    if integrator == "verlet":
        dyn = VelocityVerlet(atoms, timestep=dt)
    else:
        dyn = Langevin(atoms, timestep=dt, temperature_K=temperature_K, friction=friction_per_fs / units.fs,
                       fixcm=False, rng=rng)
    log: list[tuple[float, float, float, float]] = []

    def record():
        e_pot, e_kin = atoms.get_potential_energy(), atoms.get_kinetic_energy()
        log.append((dyn.get_time() / (1000 * units.fs), e_pot, e_kin, atoms.get_temperature()))

    dyn.attach(record, interval=interval)
    tmp = None
    if trajectory is not None:
        trajectory = Path(trajectory)
        trajectory.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{trajectory.name}.", suffix=".traj", dir=trajectory.parent)
        os.close(fd)
        writer = Trajectory(tmp, "w", atoms)
        dyn.attach(writer.write, interval=interval)
    try:
        dyn.run(steps)
        if tmp is not None:
            writer.close()
            os.replace(tmp, trajectory)
    finally:
        if tmp is not None and os.path.exists(tmp):
            writer.close()
            os.unlink(tmp)
    t, e_pot, e_kin, temp = (np.array(c) for c in zip(*log))
    return MDReport(integrator, steps, timestep_fs, len(atoms), t, e_pot, e_kin, e_pot + e_kin, temp,
                    None if trajectory is None else str(trajectory))
