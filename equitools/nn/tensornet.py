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
channels-last layout ``(n, 10, C)`` = (i; a_x, a_y, a_z; s_xx, s_yy, s_zz, s_xy, s_xz, s_yz) with
X = i 1 + [a]_× + s, so that channel mixing is three matmuls and messages move 10 numbers per
channel instead of 27; full 3×3 tensors are formed per atom only for the matrix products. The
radial MLPs depend only on the distance and run once per undirected pair.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import activation as make_activation
from .cutoff import CosineCutoff
from .edges import EdgeGraph
from .radial import radial_basis

# compact component k belongs to group 0 (I), 1 (A) or 2 (S)
_GROUP = (0, 1, 1, 1, 2, 2, 2, 2, 2, 2)
# squared Frobenius norm weights of the compact components (s traceless)
_NORM_WEIGHT = (3.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0)
# (row, col, sign) entries of each compact component in the full 3x3 matrix
_ENTRIES = (
    ((0, 0, 1.0), (1, 1, 1.0), (2, 2, 1.0)),  # i
    ((2, 1, 1.0), (1, 2, -1.0)),  # a_x
    ((0, 2, 1.0), (2, 0, -1.0)),  # a_y
    ((1, 0, 1.0), (0, 1, -1.0)),  # a_z
    ((0, 0, 1.0),), ((1, 1, 1.0),), ((2, 2, 1.0),),  # s_xx, s_yy, s_zz
    ((0, 1, 1.0), (1, 0, 1.0)), ((0, 2, 1.0), (2, 0, 1.0)), ((1, 2, 1.0), (2, 1, 1.0)),  # s_xy, s_xz, s_yz
)


def compact_to_full_matrix() -> torch.Tensor:
    """``(9, 10)`` float64 map from compact components to the flattened 3×3 tensor (row-major)."""
    out = torch.zeros(9, 10, dtype=torch.float64)
    for k, entries in enumerate(_ENTRIES):
        for r, c, sign in entries:
            out[3 * r + c, k] = sign
    return out


def full_to_compact_matrix() -> torch.Tensor:
    """``(10, 9)`` float64 map from a flattened 3×3 tensor to its compact I/A/S components."""
    out = torch.zeros(10, 9, dtype=torch.float64)
    for d in range(3):
        out[0, 4 * d] = 1.0 / 3.0  # i = tr / 3
    for k, (r, c) in zip((1, 2, 3), ((2, 1), (0, 2), (1, 0))):
        out[k, 3 * r + c] += 0.5
        out[k, 3 * c + r] -= 0.5
    for k, d in zip((4, 5, 6), range(3)):
        out[k, 4 * d] += 1.0
        out[k] -= out[0]
    for k, (r, c) in zip((7, 8, 9), ((0, 1), (0, 2), (1, 2))):
        out[k, 3 * r + c] += 0.5
        out[k, 3 * c + r] += 0.5
    return out


def decompose_tensor(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """I, A, S parts of 3×3 tensors ``(..., 3, 3)`` (the paper's decomposition, full matrices)."""
    trace = X.diagonal(dim1=-2, dim2=-1).sum(-1)
    eye = torch.eye(3, dtype=X.dtype, device=X.device)
    I = (trace / 3.0)[..., None, None] * eye
    A = 0.5 * (X - X.transpose(-2, -1))
    S = 0.5 * (X + X.transpose(-2, -1)) - I
    return I, A, S


def vector_to_skew(v: torch.Tensor) -> torch.Tensor:
    """``[v]_×`` ``(..., 3, 3)``: the skew matrix with ``[v]_× u = v × u``."""
    x, y, z = v.unbind(-1)
    zero = torch.zeros_like(x)
    return torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).view(v.shape[:-1] + (3, 3))


class CompactTensors(nn.Module):
    """Conversions and operations on the compact ``(n, 10, C)`` I/A/S layout."""

    def __init__(self):
        super().__init__()
        dtype = torch.get_default_dtype()
        self.register_buffer("to_full", compact_to_full_matrix().to(dtype), persistent=False)
        self.register_buffer("to_compact", full_to_compact_matrix().to(dtype), persistent=False)
        self.register_buffer("norm_weight", torch.tensor(_NORM_WEIGHT, dtype=dtype).view(1, 10, 1),
                             persistent=False)
        self.register_buffer("group", torch.tensor(_GROUP, dtype=torch.long), persistent=False)

    def full(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, 10, C)`` → ``(n, 3, 3, C)``."""
        return torch.matmul(self.to_full, x).view(x.shape[0], 3, 3, x.shape[-1])

    def compact(self, X: torch.Tensor) -> torch.Tensor:
        """``(n, 3, 3, C)`` → ``(n, 10, C)`` (I, A, S parts of any 3×3 tensor)."""
        return torch.matmul(self.to_compact, X.reshape(X.shape[0], 9, X.shape[-1]))

    def norm2(self, x: torch.Tensor) -> torch.Tensor:
        """Squared Frobenius norm per channel, ``(n, C)``."""
        return (self.norm_weight * x * x).sum(1)

    def part_norms2(self, x: torch.Tensor) -> torch.Tensor:
        """Squared norms of I, A, S per channel, ``(n, 3, C)``."""
        w = self.norm_weight * x * x
        return torch.stack([w[:, 0], w[:, 1:4].sum(1), w[:, 4:].sum(1)], dim=1)

    def expand_groups(self, f: torch.Tensor) -> torch.Tensor:
        """Per-group factors ``(n, 3, C)`` → per-component ``(n, 10, C)``."""
        return f.index_select(1, self.group)

    @staticmethod
    def matmul(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        """Per-channel matrix product of ``(n, 3, 3, C)`` tensors."""
        return (X.unsqueeze(3) * Y.unsqueeze(1)).sum(2)


class IASLinear(nn.Module):
    """Channel mixing without bias, one weight matrix each for the I, A and S parts."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.linear_I = nn.Linear(in_channels, out_channels, bias=False)
        self.linear_A = nn.Linear(in_channels, out_channels, bias=False)
        self.linear_S = nn.Linear(in_channels, out_channels, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.linear_I(x[:, :1]), self.linear_A(x[:, 1:4]), self.linear_S(x[:, 4:])], dim=1)


class TensorEmbedding(nn.Module):
    """Initial atomic tensors X_i from the neighbours' elements and edge directions (Sec. 3.2)."""

    def __init__(self, hidden_channels: int, num_rbf: int, act: str = "silu", max_z: int = 128):
        super().__init__()
        C = hidden_channels
        self.hidden_channels = C
        self.emb = nn.Embedding(max_z + 1, C)
        self.emb2 = nn.Linear(2 * C, C)  # Z_ij = W (Z_i ‖ Z_j) + b
        self.distance_proj = nn.Linear(num_rbf, 3 * C)  # f_I⁰, f_A⁰, f_S⁰
        self.init_norm = nn.LayerNorm(C)
        self.linears_scalar = nn.Sequential(nn.Linear(C, 2 * C), make_activation(act), nn.Linear(2 * C, 3 * C), make_activation(act))
        self.linears_tensor = IASLinear(C, C)
        self.ops = CompactTensors()

    def forward(self, z: torch.Tensor, graph: EdgeGraph, rbf: torch.Tensor, cut: torch.Tensor) -> torch.Tensor:
        C = self.hidden_channels
        n = z.shape[0]
        src, dst = graph.edge_index[0], graph.edge_index[1]
        Z = self.emb(z)
        # W (Z_i ‖ Z_j) = W_1 Z_i + W_2 Z_j: project per atom, gather per edge
        w_i, w_j = self.emb2.weight[:, :C], self.emb2.weight[:, C:]
        Zij = (Z @ w_i.t()).index_select(0, dst) + (Z @ w_j.t() + self.emb2.bias).index_select(0, src)
        radial = (self.distance_proj(rbf) * cut.unsqueeze(-1)).view(-1, 3, C).index_select(0, graph.pair)
        f = radial * Zij.unsqueeze(1)  # (E, 3, C)
        r = graph.vec / graph.length.unsqueeze(-1)
        x, y, zc = r.unbind(-1)
        one = torch.ones_like(x)
        zero = torch.zeros_like(x)
        third = one / 3.0
        geo = torch.stack([one, x, y, zc, x * x - third, y * y - third, zc * zc - third, x * y, x * zc, y * zc], dim=-1)
        # TensorNet's I₀ = 1, A = [r̂]_×, S = r̂r̂ᵀ - 1/3; a edge vector enters A, so compact a = r̂
        messages = geo.view(-1, 10, 1) * self.ops.expand_groups(f)
        X = messages.new_zeros(n, 10, C).index_add(0, dst, messages)
        norm = self.linears_scalar(self.init_norm(self.ops.norm2(X))).view(n, 3, C)
        return self.linears_tensor(X) * self.ops.expand_groups(norm)


class TensorInteraction(nn.Module):
    """One TensorNet interaction layer (Sec. 3.3) on compact tensors ``(n, 10, C)``."""

    def __init__(self, hidden_channels: int, num_rbf: int, act: str = "silu", equivariance_group: str = "O(3)"):
        super().__init__()
        if equivariance_group not in ("O(3)", "SO(3)"):
            raise ValueError(f"equivariance_group must be 'O(3)' or 'SO(3)', got {equivariance_group!r}")
        C = hidden_channels
        self.hidden_channels = C
        self.equivariance_group = equivariance_group
        self.linears_scalar = nn.Sequential(
            nn.Linear(num_rbf, C), make_activation(act), nn.Linear(C, 2 * C), make_activation(act),
            nn.Linear(2 * C, 3 * C), make_activation(act))
        self.linears_in = IASLinear(C, C)
        self.linears_out = IASLinear(C, C)
        self.ops = CompactTensors()

    def forward(self, X: torch.Tensor, graph: EdgeGraph, rbf: torch.Tensor, cut: torch.Tensor) -> torch.Tensor:
        C = self.hidden_channels
        n = X.shape[0]
        ops = self.ops
        src, dst = graph.edge_index[0], graph.edge_index[1]
        f = (self.linears_scalar(rbf) * cut.unsqueeze(-1)).view(-1, 3, C).index_select(0, graph.pair)
        X = X / (ops.norm2(X) + 1.0).unsqueeze(1)
        Y = self.linears_in(X)
        M = Y.new_zeros(n, 10, C).index_add(0, dst, Y.index_select(0, src) * ops.expand_groups(f))
        Yf, Mf = ops.full(Y), ops.full(M)
        if self.equivariance_group == "O(3)":
            P = ops.compact(ops.matmul(Mf, Yf) + ops.matmul(Yf, Mf))
        else:
            P = 2.0 * ops.compact(ops.matmul(Yf, Mf))
        P = P / (ops.norm2(P) + 1.0).unsqueeze(1)
        dX = self.linears_out(P)
        dXf = ops.full(dX)
        return X + dX + ops.compact(ops.matmul(dXf, dXf))


class TensorNet(nn.Module):
    """TensorNet representation: invariant atomic features ``(n_atoms, hidden_channels)``.

    Published defaults (rMD17): 128 channels, 2 interaction layers, 32 exponential-normal radial
    functions, cosine cutoff 5 Å, SiLU, O(3).
    """

    def __init__(self, hidden_channels: int = 128, num_layers: int = 2, num_rbf: int = 32,
                 rbf_type: str = "expnorm", cutoff: float = 5.0, activation: str = "silu",
                 equivariance_group: str = "O(3)", max_z: int = 128):
        super().__init__()
        self.hidden_channels = hidden_channels
        self.num_features = hidden_channels
        self.cutoff = float(cutoff)
        self.rbf = radial_basis(rbf_type, num_rbf, cutoff)
        self.cut = CosineCutoff(cutoff)
        self.embedding = TensorEmbedding(hidden_channels, num_rbf, activation, max_z)
        self.layers = nn.ModuleList(
            TensorInteraction(hidden_channels, num_rbf, activation, equivariance_group) for _ in range(num_layers))
        self.out_norm = nn.LayerNorm(3 * hidden_channels)
        self.linear = nn.Linear(3 * hidden_channels, hidden_channels)
        self.act = make_activation(activation)
        self.ops = CompactTensors()

    def forward(self, z: torch.Tensor, graph: EdgeGraph) -> torch.Tensor:
        r = graph.length.index_select(0, graph.pair_edge)  # one distance per undirected pair
        rbf = self.rbf(r)
        cut = self.cut(r)
        X = self.embedding(z, graph, rbf, cut)
        for layer in self.layers:
            X = layer(X, graph, rbf, cut)
        x = self.ops.part_norms2(X).reshape(X.shape[0], 3 * self.hidden_channels)
        return self.act(self.linear(self.out_norm(x)))
