"""Smooth cutoff envelopes: 1 at r = 0 (or below ``cutoff_lower``), 0 with zero slope at the cutoff."""

from __future__ import annotations

import math

import torch
from torch import nn


class CosineCutoff(nn.Module):
    """``0.5 (cos(π r / r_c) + 1)`` for r < r_c, else 0 (Behler; TensorNet, ViSNet, eSCN)."""

    def __init__(self, cutoff: float = 5.0):
        super().__init__()
        if not cutoff > 0:
            raise ValueError(f"cutoff must be positive, got {cutoff}")
        self.cutoff = float(cutoff)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        value = 0.5 * (torch.cos(r * (math.pi / self.cutoff)) + 1.0)
        return value * (r < self.cutoff).to(r.dtype)


class PolynomialCutoff(nn.Module):
    """DimeNet's polynomial envelope of degree p (MACE, NequIP): C^2 at the cutoff.

    ``1 - (p+1)(p+2)/2 x^p + p(p+2) x^(p+1) - p(p+1)/2 x^(p+2)``, x = r / r_c, for x < 1.
    """

    def __init__(self, cutoff: float = 5.0, p: int = 6):
        super().__init__()
        if not cutoff > 0:
            raise ValueError(f"cutoff must be positive, got {cutoff}")
        if p < 1:
            raise ValueError(f"p must be >= 1, got {p}")
        self.cutoff = float(cutoff)
        self.p = float(p)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        p = self.p
        x = r / self.cutoff
        value = (
            1.0
            - (p + 1.0) * (p + 2.0) / 2.0 * x**p
            + p * (p + 2.0) * x ** (p + 1.0)
            - p * (p + 1.0) / 2.0 * x ** (p + 2.0)
        )
        return value * (x < 1.0).to(r.dtype)


CUTOFFS = {"cosine": CosineCutoff, "polynomial": PolynomialCutoff}


def cutoff_function(name: str, cutoff: float) -> nn.Module:
    """A cutoff envelope by name (``"cosine"`` or ``"polynomial"``)."""
    if name not in CUTOFFS:
        raise ValueError(f"unknown cutoff function {name!r}; valid: {sorted(CUTOFFS)}")
    return CUTOFFS[name](cutoff)
