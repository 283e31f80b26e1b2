"""TensorNet: Cartesian rank-2 tensor message passing (Simeon & De Fabritiis, NeurIPS 2023,
arXiv:2306.06482).

Each atom carries, per channel, a 3×3 Cartesian tensor X = I + A + S: I = (tr X / 3) 1 (scalar,
l = 0), A = (X - Xᵀ)/2 (skew, l = 1), S = (X + Xᵀ)/2 - I (symmetric traceless, l = 2).

Paper → code:

* Embedding (Sec. 3.2): Z_ij = W(Z_i ‖ Z_j) from element embeddings; edge tensors
  φ(r) Z_ij (f_I⁰(r) 1 + f_A⁰(r) A(r̂) + f_S⁰(r) S(r̂)) with A(r̂) the skew matrix of the unit edge
  vector and S(r̂) = r̂r̂ᵀ - 1/3, f⁰ = linear maps of the radial basis e(r); X_i = Σ_j. Then
  X_i ← W_I I_i f_I(‖X_i‖) + W_A A_i f_A(‖X_i‖) + W_S S_i f_S(‖X_i‖), the f from a LayerNorm
  and an MLP of the tensor norms.  → :class:`TensorEmbedding`
* Interaction (Sec. 3.3): f_I, f_A, f_S = SiLU(MLP(e(r))) φ(r); X_i ← X_i / (‖X_i‖ + 1);
  Y_i = W_I I_i + W_A A_i + W_S S_i; M_i = Σ_j f_I I_j^Y + f_A A_j^Y + f_S S_j^Y; then
  O(3): decompose(M_i Y_i + Y_i M_i), SO(3): decompose(2 Y_i M_i); normalise by ‖·‖ + 1; new
  linear maps give dX_i; X_i ← X_i + dX_i + dX_i².  → :class:`TensorInteraction`
* Output (Sec. 3.4): LayerNorm(‖I_i‖ ‖ ‖A_i‖ ‖ ‖S_i‖) → Linear(3C → C) → SiLU, the invariant
  atomic features given to the potential's readout.  → :class:`TensorNet`

O(3) vs SO(3): the embedding builds A from a polar vector, so A is a pseudotensor under
reflections (X(Q pos) = Q (I + det Q · A + S) Qᵀ). The anticommutator M Y + Y M keeps that
grading (symmetric parts even, skew part odd) and the energy is invariant under all of O(3);
the SO(3) variant's one-sided product mixes the grades and is only rotation-invariant.

Choices where the paper is silent (as in the authors' reference code, torchmd-net):
‖X‖ is the *squared* Frobenius norm (smooth at X = 0, so an isolated atom has finite forces);
the cutoff φ is the cosine cutoff; f⁰ are plain linear maps; the charge term is not used.

Implementation (not part of the architecture, same numbers): tensors are stored compactly in
channels-last layout ``(n, 9, C)``: their coefficients in the orthonormal basis of the ICT path
matrices of a rank-2 tensor (``equitools.ict.path_matrices(2)``: paths (1, 0), (1, 1), (1, 2) →
1 row for I, 3 for A, 5 for S), so that the norm is a plain sum of squares, channel mixing is
three matmuls and messages move 9 numbers per channel instead of 27; full 3×3 tensors are formed
per atom only for the matrix products. Every operation (norms, per-part scaling and channel
mixing, products of full matrices) is unchanged by an orthogonal change of basis within a part,
so the numbers do not depend on the basis chosen (the ICT basis replaced a hand-written one with
the S rows xy, xz, yz, (xx - yy)/√2, (xx + yy - 2zz)/√6; see ``tests/test_tensornet_ict.py``).
The radial MLPs depend only on the distance and run once per undirected pair.

Higher ranks: the embedding, the interaction and the readout are written against the layout and
its algebra (``ops``: per-part sizes, channel mixing, edge tensors, the product and the square
of the update), :class:`CompactTensors` here; ``max_rank`` 3 or 4 swaps in the irreducible
Cartesian tensors of ranks 0…max_rank and their ICT products (:mod:`equitools.nn.tensornet_ict`),
the rest of the model unchanged.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..ict import path_matrices
from .blocks import activation as make_activation
from .cutoff import CosineCutoff
from .edges import EdgeGraph
from .radial import radial_basis
from .scatter import gather, scatter_sum

PARTS = (1, 3, 5)  # sizes of the I, A, S parts in the compact layout
ICT_PATHS = ((1, 0), (1, 1), (1, 2))  # the coupling paths of I, A, S in ``ict.path_matrices(2)``


def compact_basis() -> torch.Tensor:
    """``(9, 9)`` float64 orthonormal: row k is the k-th compact basis matrix, flattened row-major.

    Rows 0 | 1-3 | 4-8 are the path matrices of the I, A, S paths (:data:`ICT_PATHS`) of
    ``equitools.ict.path_matrices(2)``: the A rows are the skew matrices of x, y, z over √2, the
    S rows the l = 2 components in e3nn's real basis (y the polar axis).
    """
    pm = path_matrices(2)
    return torch.from_numpy(np.concatenate([pm[path] for path in ICT_PATHS]))


def vector_to_skew(v: torch.Tensor) -> torch.Tensor:
    """``[v]_×`` ``(..., 3, 3)``: the skew matrix with ``[v]_× u = v × u``."""
    x, y, z = v.unbind(-1)
    zero = torch.zeros_like(x)
    return torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).view(v.shape[:-1] + (3, 3))


def check_equivariance_group(group: str) -> str:
    """``group`` if it is "O(3)" or "SO(3)", else ``ValueError`` naming ``equivariance_group``."""
    if group not in ("O(3)", "SO(3)"):
        raise ValueError(f"equivariance_group must be 'O(3)' or 'SO(3)', got {group!r}")
    return group


class PartLinear(nn.Module):
    """Channel mixing without bias, one weight matrix per part (``linear_<name>``) of a compact layout."""

    def __init__(self, in_channels: int, out_channels: int, sizes: tuple[int, ...], names: tuple[str, ...]):
        super().__init__()
        self.sizes, self.names = tuple(sizes), tuple(names)
        for name in self.names:
            setattr(self, f"linear_{name}", nn.Linear(in_channels, out_channels, bias=False))

    def parts(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The mixed parts ``(n, size, C)``, separately."""
        return tuple(getattr(self, f"linear_{n}")(p) for n, p in zip(self.names, torch.split(x, self.sizes, dim=1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(self.parts(x), dim=1)


class IASLinear(PartLinear):
    """Channel mixing without bias, one weight matrix each for the I, A and S parts."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, PARTS, ("I", "A", "S"))


class PartTensors(nn.Module):
    """Operations on a compact layout ``(n, Σ sizes, C)`` of orthonormal parts of ``sizes``; a
    subclass adds ``linear``, ``edge_tensors``, ``product`` and ``square`` (its algebra)."""

    sizes: tuple[int, ...] = ()

    @staticmethod
    def norm2(x: torch.Tensor) -> torch.Tensor:
        """Squared Frobenius norm per channel, ``(n, C)`` (the basis is orthonormal)."""
        return (x * x).sum(1)

    def part_norms2(self, x: torch.Tensor) -> torch.Tensor:
        """Squared norms of the parts per channel, ``(n, parts, C)``."""
        return torch.stack([(p * p).sum(1) for p in torch.split(x, self.sizes, dim=1)], dim=1)

    def scale_groups(self, x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        """``x`` ``(n, Σ sizes, C)`` times per-part factors ``f`` ``(n, parts, C)``."""
        return torch.cat([p * g.unsqueeze(1) for p, g in zip(torch.split(x, self.sizes, dim=1), f.unbind(1))], dim=1)


class CompactTensors(PartTensors):
    """Conversions and operations on the compact ``(n, 9, C)`` I/A/S layout (orthonormal basis);
    ``group`` ("O(3)" or "SO(3)") chooses the product of :meth:`product`."""

    sizes = PARTS

    def __init__(self, group: str = "O(3)"):
        super().__init__()
        self.group = check_equivariance_group(group)
        basis = compact_basis()
        self.register_buffer("to_full", basis.t().contiguous(), persistent=False)
        self.register_buffer("to_compact", basis, persistent=False)

    @staticmethod
    def linear(in_channels: int, out_channels: int) -> IASLinear:
        """The per-part channel mixing of this layout."""
        return IASLinear(in_channels, out_channels)

    def full(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, 9, C)`` → ``(n, 3, 3, C)``."""
        return torch.matmul(self.to_full.to(x.dtype), x).view(x.shape[0], 3, 3, x.shape[-1])

    def compact(self, X: torch.Tensor) -> torch.Tensor:
        """``(n, 3, 3, C)`` → ``(n, 9, C)`` (I, A, S parts of any 3×3 tensor)."""
        return torch.matmul(self.to_compact.to(X.dtype), X.reshape(X.shape[0], 9, X.shape[-1]))

    def edge_tensors(self, r: torch.Tensor) -> torch.Tensor:
        """Compact ``(E, 9)`` of I₀ + A(r̂) + S(r̂) for unit vectors ``r`` ``(E, 3)``: TensorNet's
        edge tensors I₀ = 1, A(r̂) = [r̂]_×, S(r̂) = r̂r̂ᵀ - 1/3 (Sec. 3.2), one per part."""
        eye = torch.eye(3, dtype=r.dtype, device=r.device)
        full = eye + vector_to_skew(r) + r.unsqueeze(-1) * r.unsqueeze(-2) - eye / 3.0
        return full.reshape(-1, 9) @ self.to_compact.to(r.dtype).t()

    def product(self, M: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        """The interaction's product (Sec. 3.3), compact: O(3) decompose(M Y + Y M), SO(3) decompose(2 Y M)."""
        Yf, Mf = self.full(Y), self.full(M)
        if self.group == "O(3)":
            return self.compact(self.matmul(Mf, Yf) + self.matmul(Yf, Mf))
        return 2.0 * self.compact(self.matmul(Yf, Mf))

    def square(self, x: torch.Tensor) -> torch.Tensor:
        """decompose(X X) of a compact ``x`` (the dX² of the update, Sec. 3.3)."""
        xf = self.full(x)
        return self.compact(self.matmul(xf, xf))

    @staticmethod
    def matmul(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        """Per-channel matrix product of ``(n, 3, 3, C)`` tensors."""
        cols, rows = X.unbind(2), Y.unbind(1)  # (split/unbind: cheap backward, no zero-filled slices)
        out = cols[0].unsqueeze(2) * rows[0].unsqueeze(1)
        for j in (1, 2):
            out = out + cols[j].unsqueeze(2) * rows[j].unsqueeze(1)
        return out


class TensorEmbedding(nn.Module):
    """Initial atomic tensors X_i from the neighbours' elements and edge directions (Sec. 3.2).

    ``ops``: the compact layout and its algebra (default the I/A/S layout, :class:`CompactTensors`).
    """

    def __init__(self, hidden_channels: int, num_rbf: int, act: str, max_z: int, ops: PartTensors | None = None):
        super().__init__()
        C = hidden_channels
        ops = CompactTensors() if ops is None else ops
        parts = len(ops.sizes)
        self.hidden_channels = C
        self.emb = nn.Embedding(max_z + 1, C)
        self.emb2 = nn.Linear(2 * C, C)  # Z_ij = W (Z_i ‖ Z_j) + b
        self.distance_proj = nn.Linear(num_rbf, parts * C)  # f_I⁰, f_A⁰, f_S⁰ (one per part)
        self.init_norm = nn.LayerNorm(C)
        self.linears_scalar = nn.Sequential(
            nn.Linear(C, 2 * C), make_activation(act), nn.Linear(2 * C, parts * C), make_activation(act)
        )
        self.linears_tensor = ops.linear(C, C)
        self.ops = ops

    def forward(self, z: torch.Tensor, graph: EdgeGraph, rbf: torch.Tensor, cut: torch.Tensor) -> torch.Tensor:
        C = self.hidden_channels
        n = z.shape[0]
        src, dst = graph.edge_index[0], graph.edge_index[1]
        Z = self.emb(z)
        # W (Z_i ‖ Z_j) = W_1 Z_i + W_2 Z_j: project per atom, gather per edge
        w_i, w_j = self.emb2.weight[:, :C], self.emb2.weight[:, C:]
        Zij = gather(Z @ w_i.t(), dst) + gather(Z @ w_j.t() + self.emb2.bias, src)
        parts = len(self.ops.sizes)
        radial = (self.distance_proj(rbf) * cut.unsqueeze(-1)).view(-1, parts, C)  # per pair
        f = graph.scale_by_pair(Zij.unsqueeze(1), radial).unbind(1)  # f_I, f_A, f_S: (E, C) each
        edge = self.ops.edge_tensors(graph.vec / graph.length.unsqueeze(-1)).split(self.ops.sizes, dim=1)
        # Σ_j of the edge tensors, one scatter per part (no (E, Σ sizes, C) factor is formed)
        X = torch.cat([scatter_sum(e.unsqueeze(-1) * fe.unsqueeze(1), dst, n) for e, fe in zip(edge, f)], dim=1)
        norm = self.linears_scalar(self.init_norm(self.ops.norm2(X))).view(n, parts, C)
        return self.ops.scale_groups(self.linears_tensor(X), norm)


class TensorInteraction(nn.Module):
    """One TensorNet interaction layer (Sec. 3.3) on compact tensors ``(n, 9, C)``.

    ``ops``: the compact layout and its algebra, whose ``product`` and ``square`` are the layer's
    (default the I/A/S layout of ``equivariance_group``, :class:`CompactTensors`).
    """

    def __init__(
        self, hidden_channels: int, num_rbf: int, act: str, equivariance_group: str, ops: PartTensors | None = None
    ):
        super().__init__()
        check_equivariance_group(equivariance_group)
        ops = CompactTensors(equivariance_group) if ops is None else ops
        parts = len(ops.sizes)
        C = hidden_channels
        self.hidden_channels = C
        self.equivariance_group = equivariance_group
        self.linears_scalar = nn.Sequential(
            nn.Linear(num_rbf, C),
            make_activation(act),
            nn.Linear(C, 2 * C),
            make_activation(act),
            nn.Linear(2 * C, parts * C),
            make_activation(act),
        )
        self.linears_in = ops.linear(C, C)
        self.linears_out = ops.linear(C, C)
        self.ops = ops

    def forward(self, X: torch.Tensor, graph: EdgeGraph, rbf: torch.Tensor, cut: torch.Tensor) -> torch.Tensor:
        C = self.hidden_channels
        ops = self.ops
        f = (self.linears_scalar(rbf) * cut.unsqueeze(-1)).view(-1, len(ops.sizes), C)  # per pair
        X = X / (ops.norm2(X) + 1.0).unsqueeze(1)
        parts = self.linears_in.parts(X)
        Y = torch.cat(parts, dim=1)
        # M_i = Σ_j f_I I_j + f_A A_j + f_S S_j, one gather-multiply-scatter per part
        M = torch.cat([graph.neighbour_sum(p, fg.unsqueeze(1)) for p, fg in zip(parts, f.unbind(1))], dim=1)
        P = ops.product(M, Y)
        P = P / (ops.norm2(P) + 1.0).unsqueeze(1)
        dX = self.linears_out(P)
        return X + dX + ops.square(dX)


class TensorNet(nn.Module):
    """TensorNet representation: invariant atomic features ``(n_atoms, hidden_channels)``.

    Every hyperparameter is required (names as in the config, ``docs/config.md``); the published
    rMD17 values (128 channels, 2 interaction layers, 32 exponential-normal radial functions, cosine
    cutoff 4.5 Å, SiLU, O(3)) are the defaults of ``equitools.models.build``, the one place of defaults.
    ``max_rank`` 2 is the paper's model (3×3 tensors); 3 and 4 carry irreducible Cartesian tensors of
    ranks 0…max_rank coupled by ICT products (:mod:`equitools.nn.tensornet_ict`).
    """

    def __init__(
        self,
        *,
        hidden_channels: int,
        num_layers: int,
        num_rbf: int,
        rbf_type: str,
        cutoff: float,
        activation: str,
        equivariance_group: str,
        max_rank: int,
        max_z: int,
    ):
        super().__init__()
        check_equivariance_group(equivariance_group)
        if isinstance(max_rank, bool) or not isinstance(max_rank, int) or max_rank < 2:
            raise ValueError(f"max_rank must be an integer >= 2, got {max_rank!r}")
        if max_rank == 2:

            def make_ops() -> PartTensors:
                return CompactTensors(equivariance_group)
        else:
            from .tensornet_ict import ICTTensors

            def make_ops() -> PartTensors:
                return ICTTensors(max_rank, equivariance_group)

        self.hidden_channels = hidden_channels
        self.num_features = hidden_channels
        self.max_rank = max_rank
        self.cutoff = float(cutoff)
        self.rbf = radial_basis(rbf_type, num_rbf, cutoff)
        self.cut = CosineCutoff(cutoff)
        self.embedding = TensorEmbedding(hidden_channels, num_rbf, activation, max_z, make_ops())
        self.layers = nn.ModuleList(
            TensorInteraction(hidden_channels, num_rbf, activation, equivariance_group, make_ops())
            for _ in range(num_layers)
        )
        parts = len(self.embedding.ops.sizes)
        self.out_norm = nn.LayerNorm(parts * hidden_channels)
        self.linear = nn.Linear(parts * hidden_channels, hidden_channels)
        self.act = make_activation(activation)
        self.ops = make_ops()

    def forward(self, z: torch.Tensor, graph: EdgeGraph) -> torch.Tensor:
        r = graph.length.index_select(0, graph.pair_edge)  # one distance per undirected pair
        rbf = self.rbf(r)
        cut = self.cut(r)
        X = self.embedding(z, graph, rbf, cut)
        for layer in self.layers:
            X = layer(X, graph, rbf, cut)
        x = self.ops.part_norms2(X).reshape(X.shape[0], -1)
        return self.act(self.linear(self.out_norm(x)))
