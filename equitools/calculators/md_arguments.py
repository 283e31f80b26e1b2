"""The arguments of :func:`~equitools.calculators.md.run_md` and their ranges, in a module that
imports neither ASE nor torch (``equitools md --help`` reads them)."""

from __future__ import annotations

from ..ranges import COUNT, NON_NEGATIVE_INT, Number

INTEGRATORS = ("verlet", "langevin")
MAX_FORCE_EV_PER_A = 100.0
ARGUMENTS = {
    "steps": COUNT,
    "interval": COUNT,
    "seed": NON_NEGATIVE_INT,
    "timestep_fs": Number(float, 0, open_low=True, unit="fs"),
    "temperature_K": Number(float, 0, unit="K"),
    "friction_per_fs": Number(float, 0, unit="1/fs"),
    "max_force_eV_per_A": Number(float, 0, open_low=True, unit="eV/Å"),
    "max_temperature_K": Number(float, 0, open_low=True, unit="K"),
}
"""The range of each numeric argument of :func:`run_md` (``equitools md`` checks the same)."""
