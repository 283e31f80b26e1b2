"""Radial bases: expansions of an interatomic distance into a fixed number of smooth features.

Each module maps distances ``(...)`` to ``(..., num_basis)`` in the distances' dtype. None of them
includes a cutoff envelope; multiply by one from :mod:`equitools.nn.cutoff` where the architecture
does. Their constants are made in float64 (never from torch's default dtype) and follow ``.to()``.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class ExpNormalBasis(nn.Module):
    """Exponential-normal functions (PhysNet, Unke & Meuwly 2019; used by TensorNet and ViSNet).

    ``e_k(r) = exp(-β_k (exp(-α (r - r_lo)) - μ_k)^2)``, α = 5 / (r_hi - r_lo), μ_k spread
    evenly on [exp(-(r_hi - r_lo)), 1], β_k = (2 (1 - exp(-(r_hi - r_lo))) / K)^-2.
    """

    def __init__(
        self, num_rbf: int = 32, cutoff_upper: float = 5.0, cutoff_lower: float = 0.0, trainable: bool = False
    ):
        super().__init__()
        if num_rbf < 1:
            raise ValueError(f"num_rbf must be >= 1, got {num_rbf}")
        if not cutoff_upper > cutoff_lower:
            raise ValueError(f"cutoff_upper ({cutoff_upper}) must exceed cutoff_lower ({cutoff_lower})")
        self.num_rbf = num_rbf
        self.cutoff_lower = float(cutoff_lower)
        self.alpha = 5.0 / (cutoff_upper - cutoff_lower)
        start = math.exp(-(cutoff_upper - cutoff_lower))
        means = torch.linspace(start, 1.0, num_rbf, dtype=torch.float64)
        betas = torch.full((num_rbf,), (2.0 / num_rbf * (1.0 - start)) ** -2, dtype=torch.float64)
        if trainable:
            self.means = nn.Parameter(means)
            self.betas = nn.Parameter(betas)
        else:
            self.register_buffer("means", means)
            self.register_buffer("betas", betas)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        r = r.unsqueeze(-1)
        betas, means = self.betas.to(r.dtype), self.means.to(r.dtype)
        return torch.exp(-betas * (torch.exp(self.alpha * (self.cutoff_lower - r)) - means) ** 2)


class BesselBasis(nn.Module):
    """Spherical Bessel functions of order 0 (DimeNet, NequIP, MACE).

    ``e_n(r) = sqrt(2 / r_c) sin(n π r / r_c) / r``, n = 1..K; finite at r = 0 (limit n π / r_c
    times the prefactor).
    """

    def __init__(self, num_basis: int = 8, cutoff: float = 5.0, trainable: bool = False):
        super().__init__()
        if num_basis < 1:
            raise ValueError(f"num_basis must be >= 1, got {num_basis}")
        self.num_basis = num_basis
        self.cutoff = float(cutoff)
        self.prefactor = math.sqrt(2.0 / cutoff)
        freqs = torch.arange(1, num_basis + 1, dtype=torch.float64) * math.pi / cutoff
        if trainable:
            self.freqs = nn.Parameter(freqs)
        else:
            self.register_buffer("freqs", freqs)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        r = r.unsqueeze(-1)
        safe = torch.where(r == 0, torch.ones_like(r), r)
        freqs = self.freqs.to(r.dtype)
        value = torch.sin(freqs * safe) / safe
        return self.prefactor * torch.where(r == 0, freqs.expand_as(value), value)


class GaussianBasis(nn.Module):
    """Gaussians on an even grid (SchNet, eSCN): ``exp(-(r - μ_k)^2 / (2 σ^2))``, σ = spacing × width."""

    def __init__(
        self, start: float = 0.0, stop: float = 5.0, num_basis: int = 50, width: float = 1.0, trainable: bool = False
    ):
        super().__init__()
        if num_basis < 2:
            raise ValueError(f"num_basis must be >= 2, got {num_basis}")
        self.num_basis = num_basis
        offsets = torch.linspace(start, stop, num_basis, dtype=torch.float64)
        self.coeff = -0.5 / (float(offsets[1] - offsets[0]) * width) ** 2
        # Σ_k φ_k(r)² for r inside the grid: Σ_k exp(-(r - μ_k)²/σ²) ≈ √π σ / spacing (a Gaussian sum)
        self.square_sum = math.sqrt(math.pi) * width
        if trainable:
            self.offsets = nn.Parameter(offsets)
        else:
            self.register_buffer("offsets", offsets)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.coeff * (r.unsqueeze(-1) - self.offsets.to(r.dtype)) ** 2)


RADIAL_BASES = {
    "expnorm": lambda num_basis, cutoff: ExpNormalBasis(num_basis, cutoff_upper=cutoff),
    "bessel": lambda num_basis, cutoff: BesselBasis(num_basis, cutoff=cutoff),
    "gaussian": lambda num_basis, cutoff: GaussianBasis(0.0, cutoff, num_basis),
}
"""Each radial basis by name: ``(num_basis, cutoff) -> module`` on [0, cutoff] Å."""


def radial_basis(name: str, num_basis: int, cutoff: float) -> nn.Module:
    """A radial basis by name (a key of :data:`RADIAL_BASES`) with ``num_basis`` functions on [0, cutoff] Å."""
    if name not in RADIAL_BASES:
        raise ValueError(f"unknown radial basis {name!r}; valid: {sorted(RADIAL_BASES)}")
    return RADIAL_BASES[name](num_basis, cutoff)
