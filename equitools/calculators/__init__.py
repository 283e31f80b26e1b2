"""ASE integration: the :class:`EquiCalculator` and molecular dynamics with it."""

from .ase import EquiCalculator
from .md import MDReport, run_md

__all__ = ["EquiCalculator", "MDReport", "run_md"]
