"""Tensor products of irreps features as torch modules.

``CGTensorProduct``: the Clebsch–Gordan product (all or chosen paths, sparse coupling, weights).
``GauntTensorProduct``: the Gaunt product of spherical functions, three ways ("fourier", "grid",
"dense"), optionally with the parity-odd Poisson-bracket paths.
"""

from .cg import CGTensorProduct, Path
from .gaunt import GauntTensorProduct

__all__ = ["CGTensorProduct", "GauntTensorProduct", "Path"]
