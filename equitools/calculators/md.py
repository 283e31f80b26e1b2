"""Molecular dynamics with ASE (Langevin or velocity Verlet), a trajectory file, and a report of
the temperature and the total-energy drift.

Blow-up rule. After every step (not only the logged ones) the run checks, from the values the
integrator has already computed, in this order:

- the potential energy (eV) and every force component (eV/Å) are finite;
- no atom's force exceeds ``max_force_eV_per_A`` (default 100 eV/Å; molecules near equilibrium
  see a few eV/Å);
- the instantaneous temperature does not exceed ``max_temperature_K`` (default
  max(10 T, T + 1000 K) for the target/start temperature T: a sound NVE or Langevin run stays
  within a few T).

The first failed check stops the run: the frames logged before it stay in the trajectory file and
in the report, whose ``stopped`` says what failed at which step, and :func:`run_md` raises
:class:`MDBlowUpError` carrying that report. A start structure that fails the check is an error
(``ValueError``) before any step.
"""

from __future__ import annotations

import math
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.io.trajectory import Trajectory
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary, ZeroRotation
from ase.md.verlet import VelocityVerlet

from .ase import check_finite_structure
from .md_arguments import ARGUMENTS, INTEGRATORS, MAX_FORCE_EV_PER_A


@dataclass
class MDReport:
    """What happened in a run. Arrays per logged frame: time (ps), potential/kinetic/total
    energy (eV), temperature (K). ``drift_meV_per_atom_ps``: slope of a linear fit of the
    total energy per atom (NVE: a measure of integration error; None with fewer than 2 frames);
    ``max_deviation_meV_per_atom``: largest |E_tot - E_tot(0)| per atom. ``stopped``: why the
    blow-up check ended the run early (None for a complete run)."""

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
    stopped: str | None = None

    @property
    def drift_meV_per_atom_ps(self) -> float | None:
        """Slope of a linear fit of the total energy per atom, meV/atom/ps (None below 2 frames)."""
        if len(self.time_ps) < 2:
            return None
        return float(1000 * np.polyfit(self.time_ps, self.total / self.n_atoms, 1)[0])

    @property
    def max_deviation_meV_per_atom(self) -> float:
        """Largest |E_total(t) - E_total(0)| per atom, meV/atom."""
        return float(1000 * np.max(np.abs(self.total - self.total[0])) / self.n_atoms)

    def summary(self) -> dict:
        """Scalars of the report (JSON-ready)."""
        return {
            "integrator": self.integrator,
            "steps": self.steps,
            "timestep_fs": self.timestep_fs,
            "n_atoms": self.n_atoms,
            "simulated_ps": float(self.time_ps[-1]) if len(self.time_ps) else 0.0,
            "temperature_mean_K": float(np.mean(self.temperature)),
            "temperature_std_K": float(np.std(self.temperature)),
            "drift_meV_per_atom_ps": self.drift_meV_per_atom_ps,
            "max_deviation_meV_per_atom": self.max_deviation_meV_per_atom,
            "trajectory": self.trajectory,
            "stopped": self.stopped,
            **self.extra,
        }


class MDBlowUpError(ValueError):
    """The blow-up check stopped a run; ``report`` holds the frames logged before (its
    ``stopped`` says why), and its trajectory file, if any, is complete up to them."""

    def __init__(self, report: MDReport):
        super().__init__(f"MD stopped: {report.stopped}")
        self.report = report


def default_max_temperature(temperature_K: float) -> float:
    """The blow-up check's default temperature limit (K) for a run at ``temperature_K``."""
    return max(10 * temperature_K, temperature_K + 1000.0)


def blow_up(atoms: Atoms, max_force_eV_per_A: float, max_temperature_K: float) -> str | None:
    """What of the blow-up rule (module docstring) the state of ``atoms`` fails, or None."""
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    if not math.isfinite(energy):
        return f"potential energy {energy} eV is not finite"
    if not np.isfinite(forces).all():
        return "forces are not finite"
    force = float(np.linalg.norm(forces, axis=1).max())
    if force > max_force_eV_per_A:
        return f"max force {force:.3g} eV/Å exceeds {max_force_eV_per_A:.3g} eV/Å"
    temperature = atoms.get_temperature()
    if not temperature <= max_temperature_K:
        return f"temperature {temperature:.3g} K exceeds {max_temperature_K:.3g} K"
    return None


def run_md(
    atoms: Atoms,
    calculator,
    steps: int,
    timestep_fs: float = 0.5,
    temperature_K: float = 300.0,
    integrator: str = "verlet",
    friction_per_fs: float = 0.01,
    interval: int = 10,
    trajectory: str | os.PathLike | None = None,
    seed: int = 0,
    max_force_eV_per_A: float = MAX_FORCE_EV_PER_A,
    max_temperature_K: float | None = None,
) -> MDReport:
    """Run ``steps`` MD steps of ``atoms`` (a copy) with ``calculator``.

    Velocities start from Maxwell–Boltzmann at ``temperature_K`` (no net momentum or rotation).
    ``integrator``: "verlet" (NVE) or "langevin" (NVT, ``friction_per_fs``). Every ``interval``
    steps (1 <= interval <= steps) a frame is logged and, with ``trajectory``, written to that ASE
    ``.traj`` file (which appears when the run ends). Every step is checked for a blow-up with
    ``max_force_eV_per_A`` and ``max_temperature_K`` (None: max(10 T, T + 1000 K)), see the module
    docstring; a blow-up raises :class:`MDBlowUpError` with the report up to it.
    """
    if integrator not in INTEGRATORS:
        raise ValueError(f"integrator must be one of {INTEGRATORS}, got {integrator!r}")
    if max_temperature_K is None:
        max_temperature_K = default_max_temperature(temperature_K)
    for name, value in (
        ("steps", steps),
        ("timestep_fs", timestep_fs),
        ("temperature_K", temperature_K),
        ("friction_per_fs", friction_per_fs),
        ("interval", interval),
        ("seed", seed),
        ("max_force_eV_per_A", max_force_eV_per_A),
        ("max_temperature_K", max_temperature_K),
    ):
        ARGUMENTS[name].check(name, value)
    if interval > steps:
        raise ValueError(f"interval must be <= steps ({steps}), got {interval}")
    check_finite_structure(atoms)
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
        dyn = Langevin(
            atoms, timestep=dt, temperature_K=temperature_K, friction=friction_per_fs / units.fs, fixcm=False, rng=rng
        )
    writer = tmp = None
    if trajectory is not None:
        trajectory = Path(trajectory)
        tmp = trajectory.with_name(f".{trajectory.name}.{secrets.token_hex(8)}.tmp")
        try:
            trajectory.parent.mkdir(parents=True, exist_ok=True)
            writer = Trajectory(tmp, "w", atoms)
        except OSError as err:
            raise ValueError(f"cannot write the trajectory {trajectory}: {err.strerror or err}") from err
    log: list[tuple[float, float, float, float]] = []
    stopped = None
    try:
        for _ in dyn.irun(steps):
            if stopped := blow_up(atoms, max_force_eV_per_A, max_temperature_K):
                stopped += f" at step {dyn.nsteps} ({dyn.get_time() / units.fs:.4g} fs)"
                if dyn.nsteps == 0:
                    raise ValueError(f"the start structure fails the blow-up check: {stopped}")
                break
            if dyn.nsteps % interval == 0:
                log.append(
                    (
                        dyn.get_time() / (1000 * units.fs),
                        atoms.get_potential_energy(),
                        atoms.get_kinetic_energy(),
                        atoms.get_temperature(),
                    )
                )
                if writer is not None:
                    writer.write()
        if writer is not None:
            writer.close()
            os.replace(tmp, trajectory)
    finally:
        if tmp is not None and os.path.exists(tmp):
            writer.close()
            os.unlink(tmp)
    t, e_pot, e_kin, temp = (np.array(c) for c in zip(*log))
    report = MDReport(
        integrator,
        steps,
        timestep_fs,
        len(atoms),
        t,
        e_pot,
        e_kin,
        e_pot + e_kin,
        temp,
        None if trajectory is None else str(trajectory),
        stopped=stopped,
    )
    if stopped:
        raise MDBlowUpError(report)
    return report
