"""Equivariant linear layers on Cartesian tensors (and on any space ``ict.equivariant_basis`` reads).

Paper → code. The weights live on the complete orthonormal basis {B_k} of the equivariant linear
maps V → W between tensor-power spaces built from path matrices (Shao et al. 2024, "High-Rank
Irreducible Cartesian Tensor Decomposition and Bases of Equivariant Spaces", arXiv:2412.18263,
Sec. on equivariant bases: B_{b,a} = P_b^T P_a / sqrt(2L+1) for two coupling paths a of V and b
of W ending in the same irrep L). ICTP (Zaverkin et al., "Higher-Rank Irreducible Cartesian
Tensors for Equivariant Message Passing", NeurIPS 2024, arXiv:2405.14253) carries irreducible
Cartesian tensors and its linear layers mix channels within each rank; a reducible rank-r tensor
holds each irrep L m_L times, and the general equivariant linear map also mixes those copies:

    y[n, :, c'] = Σ_k Σ_c W[k, c, c'] (B_k x[n, :, c])           (``EquivariantLinear.forward``)

one weight per basis map and channel pair (``weight`` of shape ``(K, C_in, C_out)``, K =
``len(ict.equivariant_basis(source, target, group))``, 91 for rank 4 → rank 4 under O(3)).

Cartesian feature layout: a rank-r Cartesian feature is channels-last ``(N, 3**r, C)``, its 3**r
components flattened in C order (x, y, z per index, first index slowest: component (i, j, k) of
a rank-3 tensor at 9 i + 3 j + k), like the library's ``(N, irreps.dim, C)``; a proper or
improper rotation R acts on it as R ⊗ … ⊗ R (``equitools.testing.kron_power``).

Choices where the papers are silent:

* Contraction order (the same numbers as Σ_k B_k ⊗ W_k, never forming ``(N, K, 3**r, C)``):
  x is projected onto its irrep coefficients by the stacked path matrices (one ``(3**r, 3**r)``
  matmul), the coefficients of all paths ending in the same irrep are mixed with one
  ``(m_in C_in) x (m_out C_out)`` matrix (Schur: B_{b,a} is the identity between paths a and b
  over sqrt(2L+1)), and the result is lifted back by the target's path matrices. The work per
  row is Σ_L (2L+1) m_in(L) m_out(L) C_in C_out (each weight used once per irrep component) plus
  the two projections, against K (3**(r_in+r_out) C_in + 3**r_out C_in C_out) for applying the
  K basis maps one by one and mixing channels per map (29 times more at rank 4 → 4, C = 64).
  The projection rows are ordered (component, path), so that the coefficients of one irrep are
  an ``(N (2L+1), m_in C_in)`` matrix, and each projection is one GEMM over all rows and
  channels (``einsum``; a broadcast matmul, one small GEMM per row, is slower, mostly in the
  backward).
* Initialisation: W[k] ~ N(0, (2L_k+1) / (m_in(L_k) C_in)), m_in(L) the number of source paths
  ending in L, so that for unit-variance inputs every output irrep that some input irrep reaches
  has unit variance per component (as e3nn's ``Linear``). Output irreps that no input irrep
  reaches (rank 1 → rank 3: only the l = 1 parts) are zero; source irreps with no partner are
  dropped. A pair of spaces with no equivariant map at all (rank 1 → rank 2 under O(3)) is a
  ``ValueError``: the layer would be the zero map.
* No bias (a constant is equivariant only on the invariant part; add it there if wanted).
* dtype: the basis buffers are float64 (exact algebra; ``.double()`` of a float32 module stays
  exact) and cast to the input's dtype at use; parameters follow the default dtype as
  ``torch.nn.Linear``'s do.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..ict import equivariant_basis
from ..ict.paths import check_rank
from ..so3.irreps import check_group


def _check_channels(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _plan(basis, channels_in: int):
    """How ``EquivariantLinear`` applies ``basis``: the source and target blocks grouped by irrep
    ((L, p) under O(3), L under SO(3)), within which every (target, source) pair is one basis map.

    Returns ``(shapes, project, lift, std, indices)``: ``(L, m_in, m_out)`` per group; the rows of
    the source's reduction Q_V in (component, block) order per group ``(Σ (2L+1) m_in, dim V)``;
    the target's Q_W^T with columns in the same order; the initial std of each map; per group the
    ``(m_in, m_out)`` indices of the basis maps.
    """
    qv, v_blocks = basis.source.reduction()
    qw, w_blocks = basis.target.reduction()
    v = {label: (L, p, rows) for label, L, p, rows in v_blocks}
    w = {label: rows for label, _, _, rows in w_blocks}
    groups: dict = {}
    for k, (wl, vl) in enumerate(basis.labels):
        L, p, _ = v[vl]
        sources, targets, maps = groups.setdefault((L, p if basis.group == "O(3)" else 0), ({}, {}, {}))
        sources.setdefault(vl, len(sources))
        targets.setdefault(wl, len(targets))
        maps[(sources[vl], targets[wl])] = k
    shapes, rows_in, rows_out, indices = [], [], [], []
    std = np.empty(len(basis))
    for (L, _), (sources, targets, maps) in groups.items():
        shapes.append((L, len(sources), len(targets)))
        rows_in += [v[label][2].start + m for m in range(2 * L + 1) for label in sources]
        rows_out += [w[label].start + m for m in range(2 * L + 1) for label in targets]
        index = np.array([[maps[(a, b)] for b in range(len(targets))] for a in range(len(sources))], dtype=np.int64)
        indices.append(index)
        std[index] = math.sqrt((2 * L + 1) / (len(sources) * channels_in))
    project, lift = np.ascontiguousarray(qv[rows_in]), np.ascontiguousarray(qw[rows_out].T)
    return tuple(shapes), project, lift, std, indices


class EquivariantLinear(nn.Module):
    """``y = Σ_k B_k x W_k``: learnable combination of the orthonormal equivariant maps source → target.

    Args:
        source, target: spaces as ``ict.equivariant_basis`` reads them: a Cartesian rank (int),
            irreps (``so3.Irreps`` or its string, e.g. "1x0e+1x1o+1x2e"), or a list of these
            (their tensor product, first factor slowest).
        channels_in, channels_out: C_in and C_out.
        group: "O(3)" (rotations and inversion) or "SO(3)" (rotations only).

    Shapes: x ``(..., source_dim, C_in)`` → ``(..., target_dim, C_out)``; ``weight``:
    ``(K, C_in, C_out)``, row k the coefficients of ``basis[k]``.

    >>> layer = EquivariantLinear("1x0e+1x1o+1x2e", 2, channels_in=8, channels_out=4)
    >>> len(layer.basis), layer.weight.shape, layer(torch.randn(5, 9, 8)).shape  # 0e -> 0e, 2e -> 2e
    (2, torch.Size([2, 8, 4]), torch.Size([5, 9, 4]))
    """

    def __init__(self, source, target, channels_in: int, channels_out: int, group: str = "O(3)"):
        super().__init__()
        self.channels_in = _check_channels(channels_in, "channels_in")
        self.channels_out = _check_channels(channels_out, "channels_out")
        self.group = check_group(group)
        self.basis = equivariant_basis(source, target, self.group)
        if not len(self.basis):
            raise ValueError(
                f"no {self.group}-equivariant linear map from {source!r} to {target!r} "
                "(no irrep in common; under O(3) the parities must agree)"
            )
        self.source_dim, self.target_dim = self.basis.source.dim, self.basis.target.dim
        shapes, project, lift, std, indices = _plan(self.basis, self.channels_in)
        self._shapes = shapes  # (L, m_in, m_out) per irrep
        self.register_buffer("project", torch.from_numpy(project), persistent=False)
        self.register_buffer("lift", torch.from_numpy(lift), persistent=False)
        self.register_buffer("init_std", torch.from_numpy(std), persistent=False)
        for i, index in enumerate(indices):
            self.register_buffer(f"index{i}", torch.from_numpy(index), persistent=False)
        self.weight = nn.Parameter(torch.empty(len(self.basis), self.channels_in, self.channels_out))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw ``weight[k] ~ N(0, init_std[k]^2)`` (unit output variance for unit-variance input)."""
        with torch.no_grad():
            self.weight.normal_()
            self.weight.mul_(self.init_std.to(self.weight.dtype)[:, None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"x must be a floating-point tensor, got {type(x).__name__}")
        if x.dim() < 2 or tuple(x.shape[-2:]) != (self.source_dim, self.channels_in):
            raise ValueError(f"x has shape {tuple(x.shape)}; expected (..., {self.source_dim}, {self.channels_in})")
        batch = x.shape[:-2]
        x = x.reshape(-1, self.source_dim, self.channels_in)
        z = torch.einsum("rs,nsc->nrc", self.project.to(x.dtype), x)  # rows: (component, path) per irrep
        weight = self.weight.to(x.dtype)
        parts = []
        blocks = z.split([(2 * L + 1) * m_in for L, m_in, _ in self._shapes], dim=1)  # (split: one cat backward)
        for i, ((L, m_in, m_out), block) in enumerate(zip(self._shapes, blocks)):
            d = 2 * L + 1
            w = weight[getattr(self, f"index{i}")]  # (m_in, m_out, C_in, C_out)
            w = w.permute(0, 2, 1, 3).reshape(m_in * self.channels_in, m_out * self.channels_out)
            block = block.reshape(-1, d, m_in * self.channels_in)
            parts.append(torch.matmul(block, w / math.sqrt(d)).reshape(-1, d * m_out, self.channels_out))
        u = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        y = torch.einsum("rs,nsc->nrc", self.lift.to(x.dtype), u)
        return y.reshape(batch + (self.target_dim, self.channels_out)).contiguous()

    def extra_repr(self) -> str:
        return (
            f"{self.basis.source.spec!r} -> {self.basis.target.spec!r}, channels {self.channels_in} -> "
            f"{self.channels_out}, {self.group}, {len(self.basis)} basis maps"
        )


class CartesianLinear(EquivariantLinear):
    """Equivariant linear map between rank-r Cartesian features, ``(..., 3**rank_in, C_in)`` →
    ``(..., 3**rank_out, C_out)``: ``y = Σ_k B_k x W_k`` over ``ict.equivariant_basis(rank_in,
    rank_out, group)`` (module docstring: layout, contraction order, initialisation).

    >>> layer = CartesianLinear(2, 2, channels_in=16, channels_out=8)
    >>> len(layer.basis), layer.weight.shape  # identity, transpose and trace maps, orthonormalised
    (3, torch.Size([3, 16, 8]))
    >>> layer(torch.randn(10, 9, 16)).shape
    torch.Size([10, 9, 8])
    >>> len(CartesianLinear(1, 2, 4, 4, group="SO(3)").basis)  # the Levi-Civita map, rotations only
    1
    """

    def __init__(self, rank_in: int, rank_out: int, channels_in: int, channels_out: int, group: str = "O(3)"):
        for name, value in (("rank_in", rank_in), ("rank_out", rank_out)):
            try:
                check_rank(value)
            except ValueError:
                raise ValueError(f"{name} must be a positive int (a Cartesian rank), got {value!r}") from None
        super().__init__(rank_in, rank_out, channels_in, channels_out, group)
        self.rank_in, self.rank_out = rank_in, rank_out
