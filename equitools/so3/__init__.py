"""Representation theory of SO(3) and O(3) in the real basis (e3nn's convention).

numpy float64 and exact sympy; torch only when a torch tensor is passed in.
"""

from .basis import complex_to_real, dim
from .clebsch_gordan import clebsch_gordan
from .gaunt import bracket_factor, gaunt, gaunt_factor
from .harmonics import spherical_harmonics
from .wigner import wigner_D

__all__ = [
    "bracket_factor",
    "clebsch_gordan",
    "complex_to_real",
    "dim",
    "gaunt",
    "gaunt_factor",
    "spherical_harmonics",
    "wigner_D",
]
