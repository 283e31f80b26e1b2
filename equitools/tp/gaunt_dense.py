"""Gaunt tensor product by dense contraction with the stacked Gaunt tensor: the reference, O(L^6)."""

from __future__ import annotations

from functools import cache

import numpy as np
import torch

from ..so3 import bracket_factor, clebsch_gordan, gaunt_factor
from .harmonic_layout import contract_components


@cache
def dense_gaunt(L1: int, L2: int, L_out: int, odd: bool = False) -> np.ndarray:
    """``((L1+1)^2, (L2+1)^2, k, (L_out+1)^2)``: Gaunt tensor (k = 0) and, with ``odd``, the
    Poisson-bracket tensor ∫ Y_l3 {Y_l1, Y_l2} dΩ (k = 1), both as factor × Clebsch–Gordan."""
    factors = (gaunt_factor, bracket_factor)[: 1 + odd]
    out = np.zeros(((L1 + 1) ** 2, (L2 + 1) ** 2, len(factors), (L_out + 1) ** 2))
    for l1 in range(L1 + 1):
        for l2 in range(L2 + 1):
            for l3 in range(abs(l1 - l2), min(l1 + l2, L_out) + 1):
                for k, factor in enumerate(factors):
                    block = factor(l1, l2, l3) * clebsch_gordan(l1, l2, l3)
                    out[l1 * l1 : (l1 + 1) ** 2, l2 * l2 : (l2 + 1) ** 2, k, l3 * l3 : (l3 + 1) ** 2] = block
    out.setflags(write=False)
    return out


class DenseGaunt(torch.nn.Module):
    """x ``(N, (L1+1)^2, C1)``, y ``(N, (L2+1)^2, C2)`` (C1, C2 in {1, C}) → ``(N, k (L_out+1)^2, C)``
    (Gaunt, then with ``odd`` the bracket), by one dense contraction."""

    def __init__(self, L1: int, L2: int, L_out: int, odd: bool = False):
        super().__init__()
        self.register_buffer("tensor", torch.tensor(dense_gaunt(L1, L2, L_out, odd)), persistent=False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        tensor = self.tensor.to(x.dtype)
        n1, n2 = tensor.shape[:2]
        t = contract_components(x, tensor.reshape(n1, -1)).view(x.shape[0], n2, -1, x.shape[-1])
        return (y.unsqueeze(2) * t).sum(1)
