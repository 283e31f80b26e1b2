"""Representation theory of SO(3) and O(3) in the real basis (e3nn's convention).

numpy float64 and exact sympy; torch only when a torch tensor is passed in.
"""

from .basis import complex_to_real, dim
from .clebsch_gordan import clebsch_gordan
from .gaunt import bracket_factor, gaunt, gaunt_factor
from .harmonics import spherical_harmonics
from .irreps import Irrep, Irreps, allowed, check_group
from .wigner import wigner_D, wigner_D_all

__all__ = [
    "Irrep",
    "Irreps",
    "allowed",
    "bracket_factor",
    "check_group",
    "clebsch_gordan",
    "complex_to_real",
    "dim",
    "gaunt",
    "gaunt_factor",
    "spherical_harmonics",
    "wigner_D",
    "wigner_D_all",
]
