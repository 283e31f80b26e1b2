"""Node-wise Gaunt self-interaction x ⊗ x (Luo et al., "Enabling efficient equivariant operations
in the Fourier basis via Gaunt tensor products", ICLR 2024, Sec. 4: equivariant feature
interactions, the "Selfmix" layer added to eSCN on OC20).

Each atom's spherical channels ``x`` ``(n, (L+1)^2, C)`` (degrees 0..L, the library layout) are
read as C spherical functions. Paper → code:

* Two per-degree channel mixes a = W₁ x, b = W₂ x (Luo et al. weight the degrees before the
  product; a full channel mix per degree, ``nn.blocks.DegreeLinear``, contains those weights).
* The Gaunt tensor product of a and b channel by channel, i.e. the harmonic coefficients of the
  product of the two spherical functions up to degree L:
  z_l3m3 = Σ gaunt(l1, l2, l3)[m1, m2, m3] a_l1m1 b_l2m2 (``tp.GauntTensorProduct``, method
  "grid": synthesis on a Gauss–Legendre × uniform-φ grid, pointwise product, projection; exact,
  and the fastest of the three methods on a CPU).
* A per-degree, per-channel output scale s[l, c]: the returned update is s ⊙ z.

Choices where the paper is silent:

* The module returns the update, not x + update: a model adds it as a residual branch (eSCN after
  its own equivariant layer norm, as its other blocks). The scale starts at zero
  (``scale_init``, as ReZero), so a model with the interaction computes exactly the function of
  the same model without it at initialisation; the first gradient step moves s only, the next
  ones W₁ and W₂ as well.
* z is normalised per output degree: with independent unit-variance components in a and b, every
  component of z has unit variance. Its variance is Σ_{l1,l2 <= L} g(l1, l2, l3)², g the Gaunt
  factor (``so3.gaunt_factor``), because the Clebsch–Gordan tensors are orthonormal; so s = 1
  means a unit-variance update.
* No bias in W₁, W₂: the branch is a pure quadratic form of x (a bias would add a linear map of
  x, which the neighbouring linear layers already provide).
* Parity: the Gaunt product keeps only the paths with l1 + l2 + l3 even, whose output parity
  p^(l1+l2) = p^l3 is that of the output slot whenever the features have the parities of
  spherical harmonics, p^l with p = ±1 (``so3.Irreps.spherical_harmonics(L, p)``: 0e+1o+2e+…
  for FreeCG's scalars and l = 1, 2 features; any parity for eSCN, which is SO(3)-only). So the
  module is O(3)-equivariant for such features, and the parity-odd (Poisson-bracket) paths are
  left out: they would produce the opposite parities. For a = b the odd paths vanish anyway
  (C^{l1 l2 l3} is antisymmetric under swapping l1, l2 when l1 + l2 + l3 is odd); with W₁ ≠ W₂
  they are what the Gaunt product gives up beside the full CG product (no cross product).
* The grid has the fewest points for which the product is exact (``tp.gaunt_grid.sphere_grid``:
  ⌊3L/2⌋ + 1 nodes in cos θ, 3L + 1 in φ), fixed tables as buffers, one batched matmul per
  transform; W₁ and W₂ are one per-degree map to 2C channels, split afterwards.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..so3 import Irreps, gaunt_factor
from ..so3.basis import check_degree
from ..tp import GauntTensorProduct
from .blocks import DegreeLinear

NODE_INTERACTIONS = ("none", "gaunt")
"""Values of the models' ``node_interaction`` key: no extra block, or :class:`GauntSelfInteraction`."""


def gaunt_output_std(lmax: int) -> np.ndarray:
    """Standard deviation of each output degree l3 = 0..lmax of the Gaunt product of two
    independent unit-variance degree-lmax features: sqrt(Σ_{l1,l2 <= lmax} g(l1, l2, l3)²)."""
    return np.sqrt(
        [
            sum(
                gaunt_factor(l1, l2, l3) ** 2
                for l1 in range(lmax + 1)
                for l2 in range(abs(l1 - l3), min(l1 + l3, lmax) + 1)
            )
            for l3 in range(lmax + 1)
        ]
    )


class GauntSelfInteraction(nn.Module):
    """Node-wise self-interaction s ⊙ Gaunt(W₁ x, W₂ x) of spherical channels, a residual branch.

    Args:
        lmax: the largest degree L of the features.
        channels: C, the number of channels (kept).
        scale_init: initial value of the output scale s ``(L+1, C)``; 0 (the default) makes the
            branch vanish at initialisation.

    Shapes: x ``(n, (L+1)^2, C)``, channels last → ``(n, (L+1)^2, C)``, the update to add to x.
    Equivariant for features with irreps ``so3.Irreps.spherical_harmonics(L, p)``, p = ±1.

    >>> block = GauntSelfInteraction(2, 8, scale_init=1.0)
    >>> block(torch.randn(5, 9, 8)).shape
    torch.Size([5, 9, 8])
    >>> bool((GauntSelfInteraction(2, 8)(torch.randn(5, 9, 8)) == 0).all())  # zero at initialisation
    True
    """

    def __init__(self, lmax: int, channels: int, scale_init: float = 0.0):
        super().__init__()
        self.lmax = check_degree(lmax, "lmax")
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ValueError(f"channels must be a positive int, got {channels!r}")
        self.channels = channels
        self.mix = DegreeLinear(lmax, channels, 2 * channels, bias=False)  # (W₁ ‖ W₂) in one map
        self.product = GauntTensorProduct(lmax, lmax, lmax, method="grid")
        self.scale = nn.Parameter(torch.full((lmax + 1, channels), float(scale_init)))
        std = torch.tensor(gaunt_output_std(lmax), dtype=torch.float64)
        self.register_buffer("inverse_std", (1.0 / std).unsqueeze(-1), persistent=False)
        degree = torch.from_numpy(Irreps.spherical_harmonics(lmax).degree_index())
        self.register_buffer("degree", degree, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = (self.lmax + 1) ** 2
        if x.dim() != 3 or x.shape[1:] != (dim, self.channels):
            raise ValueError(f"x has shape {tuple(x.shape)}; expected (n, {dim}, {self.channels})")
        if x.shape[0] == 0:
            return x.new_zeros(x.shape)
        a, b = self.mix(x).split(self.channels, dim=-1)
        z = self.product(a, b)
        return z * (self.scale * self.inverse_std).to(z.dtype).index_select(0, self.degree)
