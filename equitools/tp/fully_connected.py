"""Fully connected Clebsch–Gordan tensor product on channels-last features (e3nn's "uvw" mode).

For features in the library's layout, x1 ``(..., dim1, U)`` and x2 ``(..., dim2, V)`` (the
irreps of one channel, multiplicity 1 each, e.g. "1o+2e"; channels last), and each path
p = (l1, l2 → l3) that ``group`` allows,

    out[..., l3, w] = Σ_p n_p Σ_{u,v} W_p[u, v, w]
                      Σ_{m1 m2} C(l1, l2, l3)[m1, m2, :] x1[..., l1, u][m1] x2[..., l2, v][m2]

with C the library's orthonormal real CG tensor and n_p = 1/sqrt(number of paths into l3).
Each path is three batched matmuls in a group-major order: x2 with W_p (one matmul per weight
group, T[(m2, u), w]), x1 with C (coupled[m3, (m2, u)]), then the two over (m2, u). Nothing of
size (U · dim1) × (V · dim2) (the outer product of all components) is ever formed: memory per
sample is O(U (2 l2 + 1) (W + 2 l3 + 1)) per path; the only copies are of the inputs' slices
and of the small ``coupled`` (BLAS needs the group as the leading batch axis).

The weights may differ per *group*: ``weight_groups = (G,)`` gives W of shape
``(G, n_paths, U, V, W)`` and splits the channel axis into G groups of U (V, W) channels:
x1 ``(..., dim1, G, U)``, the view of ``(..., dim1, G·U)`` — the group CG transform of FreeCG
(arXiv:2407.02263, eq. 9–11).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..so3 import clebsch_gordan
from ..so3.irreps import Irreps, check_group
from .cg import Path, allowed_paths
from .irreps import as_irreps


class FullyConnectedCGProduct(torch.nn.Module):
    """``out = Σ_paths W_p · CG(x1, x2)_p`` with a full U × V → W channel mixing per path.

    Args:
        irreps_in1, irreps_in2: irreps of one channel, multiplicity 1 each ("1o+2e").
        channels_in1, channels_in2, channels_out: U, V and W.
        paths: the ``(l1, l2, l3)`` or ``(ir1, ir2, ir3)`` couplings to use (None: all allowed).
        group: "O(3)" (parity must match: p3 = p1 p2) or "SO(3)" (parity ignored, e.g. the cross
            product 1o ⊗ 1o → 1o; outputs of degree l labelled (-1)^l).
        weight_groups: leading shape of the weights, splitting the channel axes (``(G,)`` for one
            weight set per group of channels; ``()`` for shared weights).
        internal_weights: weights as a parameter (initialised with std 1/sqrt(U V)); otherwise
            ``forward`` takes ``weight`` of shape ``(*weight_groups, n_paths, U, V, W)``.

    Shapes: x1 ``(..., irreps_in1.dim, *weight_groups, U)``, x2 ``(..., irreps_in2.dim,
    *weight_groups, V)`` → ``(..., irreps_out.dim, *weight_groups, W)``; ``irreps_out`` holds
    every output irrep a path reaches, once, sorted.

    >>> tp = FullyConnectedCGProduct("1o", "1o+2e", channels_in1=4, channels_in2=3, channels_out=5)
    >>> tp.irreps_out, tp.weight.shape
    (1x0e+1x1o+1x1e+1x2o+1x2e+1x3o, torch.Size([6, 4, 3, 5]))
    >>> tp(torch.randn(10, 3, 4), torch.randn(10, 8, 3)).shape  # (batch, irreps_out.dim, W)
    torch.Size([10, 24, 5])
    >>> so3 = FullyConnectedCGProduct("1o+2e", "1o+2e", 8, 8, 8, paths=[(1, 1, 1), (2, 2, 2)], group="SO(3)",
    ...                               weight_groups=(4,))
    >>> so3.irreps_out, so3(torch.randn(10, 8, 4, 8), torch.randn(10, 8, 4, 8)).shape
    (1x1o+1x2e, torch.Size([10, 8, 4, 8]))
    """

    def __init__(
        self,
        irreps_in1,
        irreps_in2,
        channels_in1: int,
        channels_in2: int,
        channels_out: int,
        paths=None,
        group: str = "O(3)",
        weight_groups: tuple[int, ...] = (),
        internal_weights: bool = True,
        path_normalization: bool = True,
    ):
        super().__init__()
        self.irreps_in1 = _single(as_irreps(irreps_in1, "irreps_in1"), "irreps_in1")
        self.irreps_in2 = _single(as_irreps(irreps_in2, "irreps_in2"), "irreps_in2")
        channels = (channels_in1, channels_in2, channels_out)
        for name, value in zip(("channels_in1", "channels_in2", "channels_out"), channels):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.channels = channels
        self.group = check_group(group)
        self._paths, self.irreps_out = self._find_paths(paths)
        self.weight_shape = tuple(weight_groups) + (len(self._paths), channels_in1, channels_in2, channels_out)
        fan_in = np.bincount([p.i_out for p in self._paths], minlength=len(self.irreps_out))
        slices1, slices2 = self.irreps_in1.slices(), self.irreps_in2.slices()
        self._slices = [(slices1[p.i_in1], slices2[p.i_in2]) for p in self._paths]
        self._dims = (self.irreps_in1.dim, self.irreps_in2.dim)  # (forward reads no Irreps: torch.compile)
        self._path_outputs = tuple(p.i_out for p in self._paths)
        self._n_out = len(self.irreps_out)
        for k, p in enumerate(self._paths):
            scale = 1.0 / math.sqrt(fan_in[p.i_out]) if path_normalization else 1.0
            # float64 (cast at use), so that .double() of a module built in float32 stays exact
            self.register_buffer(f"cg{k}", torch.tensor(clebsch_gordan(p.l1, p.l2, p.l3) * scale), persistent=False)
        self.internal_weights = internal_weights
        if internal_weights:
            self.weight = torch.nn.Parameter(torch.randn(self.weight_shape) / math.sqrt(channels_in1 * channels_in2))

    def _find_paths(self, paths) -> tuple[tuple[Path, ...], Irreps]:
        found = allowed_paths(self.irreps_in1, self.irreps_in2, paths, self.group)
        if not found:
            raise ValueError(f"no allowed path from {self.irreps_in1} ⊗ {self.irreps_in2}")
        out = Irreps(sorted({(1, ir3) for *_, ir3 in found}, key=lambda m: m[1]))
        index = {ir: i for i, (_, ir) in enumerate(out)}
        return tuple(Path(i1, i2, index[ir3], ir1.l, ir2.l, ir3.l) for i1, i2, ir1, ir2, ir3 in found), out

    @property
    def paths(self) -> tuple[Path, ...]:
        """The paths, in weight order: ``Path(i_in1, i_in2, i_out, l1, l2, l3)``."""
        return self._paths

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        U, V, W = self.channels
        groups = self.weight_shape[:-4]
        _check_input(x1, self._dims[0], groups + (U,), "x1")
        _check_input(x2, self._dims[1], groups + (V,), "x2")
        if x1.dtype != x2.dtype:
            raise TypeError(f"x1 and x2 have different dtypes ({x1.dtype}, {x2.dtype})")
        batch = tuple(x1.shape[: x1.dim() - len(groups) - 2])
        if tuple(x2.shape[: x2.dim() - len(groups) - 2]) != batch:
            raise ValueError(
                f"x1 and x2 have different batch shapes ({batch}, {tuple(x2.shape[: x2.dim() - len(groups) - 2])})"
            )
        weight = self._weight(weight)
        G, B = math.prod(groups), math.prod(batch)
        # group-major views (G, B, channels, dim) for the batched matmuls; copies are per slice below
        a = x1.reshape(B, self._dims[0], G, U).permute(2, 0, 3, 1)
        b = x2.reshape(B, self._dims[1], G, V).permute(2, 0, 1, 3)  # (G, B, dim2, V)
        weight = weight.reshape(G, len(self._paths), U, V, W)
        staged1, staged2 = {}, {}  # each input block copied group-major once, shared by its paths
        blocks: list[torch.Tensor | None] = [None] * self._n_out
        for k, (i_out, (s1, s2)) in enumerate(zip(self._path_outputs, self._slices)):
            cg = getattr(self, f"cg{k}").to(x1.dtype)
            d1, d2, d3 = cg.shape
            if s1.start not in staged1:
                staged1[s1.start] = a[..., s1].reshape(G * B, U, d1)
            if s2.start not in staged2:
                staged2[s2.start] = b[:, :, s2].reshape(G, B * d2, V)
            # T[g b, (m2, u), w] = Σ_v x2[b, m2, g, v] W_p[g, u, v, w]: one matmul per group
            T = torch.bmm(staged2[s2.start], weight[:, k].transpose(1, 2).reshape(G, V, U * W))
            T = T.view(G * B, d2 * U, W)
            # coupled[g b, m3, (m2, u)] = Σ_m1 C[m1, m2, m3] x1[b, m1, g, u]
            coupled = torch.matmul(staged1[s1.start], cg.reshape(d1, d2 * d3))
            coupled = coupled.view(G * B, U, d2, d3).permute(0, 3, 2, 1).reshape(G * B, d3, d2 * U)
            y = torch.bmm(coupled, T)  # (G B, 2 l3 + 1, W)
            blocks[i_out] = y if blocks[i_out] is None else blocks[i_out] + y
        # one copy: the blocks, viewed (B, 2 l3 + 1, G, W), concatenated into the channels-last layout
        out = torch.cat([y.view(G, B, y.shape[1], W).permute(1, 2, 0, 3) for y in blocks], dim=1)
        return out.view(*batch, out.shape[1], *groups, W)

    def _weight(self, weight: torch.Tensor | None) -> torch.Tensor:
        if self.internal_weights:
            if weight is not None:
                raise ValueError("this product owns its weights (internal_weights=True); do not pass weight")
            return self.weight
        if weight is None or tuple(weight.shape) != self.weight_shape:
            got = None if weight is None else tuple(weight.shape)
            raise ValueError(f"weight of shape {self.weight_shape} is required, got {got}")
        return weight


def _single(irreps: Irreps, name: str) -> Irreps:
    if any(mul != 1 for mul, _ in irreps):
        raise ValueError(f"{name} = {irreps}: give one channel's irreps (multiplicity 1); channels are an axis")
    return irreps


def _check_input(x: torch.Tensor, dim: int, channels: tuple, name: str) -> None:
    if not torch.is_tensor(x) or not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor")
    expected = (dim,) + channels
    if x.dim() < len(expected) or tuple(x.shape[-len(expected) :]) != expected:
        raise ValueError(f"{name} has shape {tuple(x.shape)}; expected (..., {', '.join(map(str, expected))})")
