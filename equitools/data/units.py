"""Units: the library works in Å, eV and eV/Å; loaders convert on read with these factors.

Factors come from ``ase.units`` (CODATA 2014), so they agree with every ASE calculator.
"""

from __future__ import annotations

from ase import units as _ase

KCAL_PER_MOL = _ase.kcal / _ase.mol
"""1 kcal/mol in eV (≈ 0.0433641)."""

KJ_PER_MOL = _ase.kJ / _ase.mol
"""1 kJ/mol in eV."""

HARTREE = _ase.Hartree
"""1 Hartree in eV (≈ 27.2114)."""

BOHR = _ase.Bohr
"""1 bohr in Å (≈ 0.529177)."""

ENERGY_UNITS = {"eV": 1.0, "meV": 1e-3, "kcal/mol": KCAL_PER_MOL, "kJ/mol": KJ_PER_MOL, "Hartree": HARTREE}
"""Energy units a loader accepts, with their value in eV. Forces are the energy unit per Å."""

LIBRARY_UNITS = {"pos": "Å", "energy": "eV", "forces": "eV/Å", "cell": "Å"}
"""Units of the common fields of every dataset in ``equitools.data``."""


def energy_factor(unit: str) -> float:
    """The factor that converts ``unit`` (a key of ``ENERGY_UNITS``) to eV."""
    try:
        return ENERGY_UNITS[unit]
    except KeyError:
        raise ValueError(f"unknown energy unit {unit!r}; known: {', '.join(ENERGY_UNITS)}") from None
