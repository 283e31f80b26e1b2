"""Representation theory of SO(3) and O(3) in the real basis (e3nn's convention).

numpy float64 and exact sympy; torch only when a torch tensor is passed in.
"""

from .basis import complex_to_real, dim
from .clebsch_gordan import clebsch_gordan
from .harmonics import spherical_harmonics
from .wigner import wigner_D

__all__ = ["clebsch_gordan", "complex_to_real", "dim", "spherical_harmonics", "wigner_D"]
