"""Tensor products of irreps features as torch modules.

``CGTensorProduct``: the Clebsch–Gordan product (all or chosen paths, sparse coupling, weights).
``FullyConnectedCGProduct``: the CG product with a full U × V → W channel mixing per path (e3nn's
"uvw"), optionally one weight set per channel group, without forming the outer product.
``GauntTensorProduct``: the Gaunt product of spherical functions, three ways ("fourier", "grid",
"dense"), optionally with the parity-odd Poisson-bracket paths.
"""

from .cg import CGTensorProduct, Path
from .fully_connected import FullyConnectedCGProduct
from .gaunt import GauntTensorProduct

__all__ = ["CGTensorProduct", "FullyConnectedCGProduct", "GauntTensorProduct", "Path"]
