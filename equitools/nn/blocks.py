"""Small reusable blocks: activations, MLPs, element embeddings, equivariant normalisation, gates.

Spherical features use the *spherical-channel* layout ``(n, (L+1)^2, C)``: degrees l = 0..L
stacked along dim 1 (offset l^2, 2l+1 rows each, m = -l..l in e3nn's real basis), C channels
along the last dim. Every block here keeps exact equivariance: it acts on the channels of each
degree only through linear maps or through invariants (norms, l = 0 components).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..so3 import Irreps

ACTIVATIONS = {"silu": nn.SiLU, "tanh": nn.Tanh, "gelu": nn.GELU, "ssp": nn.Softplus, "relu": nn.ReLU}


def activation(name: str) -> nn.Module:
    """An activation module by name (``silu``, ``tanh``, ``gelu``, ``ssp``, ``relu``)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class MLP(nn.Sequential):
    """Linear layers of widths ``dims`` with an activation between them (none after the last)."""

    def __init__(self, dims: Sequence[int], act: str = "silu", bias: bool = True, last_bias: bool = True):
        if len(dims) < 2:
            raise ValueError(f"an MLP needs at least two widths, got {list(dims)}")
        layers: list[nn.Module] = []
        for k, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            last = k == len(dims) - 2
            layers.append(nn.Linear(a, b, bias=last_bias if last else bias))
            if not last:
                layers.append(activation(act))
        super().__init__(*layers)


class ElementEmbedding(nn.Embedding):
    """Learned vector per chemical element, indexed by atomic number z (0..max_z)."""

    def __init__(self, num_channels: int, max_z: int = 100):
        super().__init__(max_z + 1, num_channels)
        self.max_z = max_z


class EquivariantLayerNorm(nn.Module):
    """Layer norm for spherical channels ``(n, (L+1)^2, C)``.

    l = 0: the usual layer norm over channels (mean removed, affine). l > 0: each degree divided
    by the root mean square over channels of its rotation-invariant norms, then scaled per channel
    (no shift, no mean removal: those would break equivariance).
    """

    def __init__(self, lmax: int, num_channels: int, eps: float = 1e-5, affine: bool = True):
        super().__init__()
        self.lmax = lmax
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        self.weight = nn.Parameter(torch.ones(lmax + 1, num_channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_channels)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = []
        s = x[:, :1, :]
        s = s - s.mean(dim=-1, keepdim=True)
        s = s / torch.sqrt((s * s).mean(dim=-1, keepdim=True) + self.eps)
        if self.weight is not None:
            s = s * self.weight[0] + self.bias
        out.append(s)
        for l in range(1, self.lmax + 1):
            v = x[:, l * l : (l + 1) * (l + 1), :]
            rms = torch.sqrt((v * v).sum(dim=1, keepdim=True).mean(dim=-1, keepdim=True) + self.eps)
            v = v / rms
            if self.weight is not None:
                v = v * self.weight[l]
            out.append(v)
        return torch.cat(out, dim=1)


class Gate(nn.Module):
    """Gated nonlinearity (Weiler et al. 2018) on spherical channels.

    ``x``: ``(n, (L+1)^2, C)``, ``gates``: ``(n, L, C)`` invariant pre-activations, one per degree
    l > 0 and channel. Returns act(x_0) for l = 0 and x_l · sigmoid(gate_l) for l > 0.
    """

    def __init__(self, lmax: int, act: str = "silu"):
        super().__init__()
        self.lmax = lmax
        self.act = activation(act)
        degree = torch.from_numpy(Irreps.spherical_harmonics(lmax).degree_index())  # l of each row
        self.register_buffer("degree", degree, persistent=False)

    def forward(self, x: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        if self.lmax == 0:
            return self.act(x)
        g = torch.sigmoid(gates).index_select(1, self.degree[1:] - 1)
        return torch.cat([self.act(x[:, :1]), x[:, 1:] * g], dim=1)


class DegreeLinear(nn.Module):
    """Channel mixing per degree on spherical channels: ``x_l ↦ x_l W_l`` (bias on l = 0 only)."""

    def __init__(self, lmax: int, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__()
        self.lmax = lmax
        self.weight = nn.Parameter(torch.randn(lmax + 1, in_channels, out_channels) / in_channels**0.5)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = [torch.matmul(x[:, l * l : (l + 1) * (l + 1)], self.weight[l]) for l in range(self.lmax + 1)]
        if self.bias is not None:
            parts[0] = parts[0] + self.bias
        return torch.cat(parts, dim=1)
