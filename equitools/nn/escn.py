"""eSCN: SO(3) convolutions reduced to SO(2) by rotating each edge to its own frame
(Passaro & Zitnick, ICML 2023, arXiv:2302.03655).

Atoms carry spherical channels ``x`` of shape ``(n, (L+1)^2, C)`` (degrees 0..L, e3nn's real
basis, y the polar axis). Paper → code:

* Edge frame (Sec. 4): a rotation R_e with R_e r̂_e = ŷ (the polar axis), so that the edge
  direction's spherical harmonics are non-zero only for m = 0. Node irreps are rotated into the
  frame with ``so3.wigner_D_all(L, R_e)`` (D_l x_l), and back with its transpose.
  → :func:`edge_frames`, :class:`EdgeRotation`
* SO(2) convolution (Sec. 4, eq. 6–8): in that frame the SO(3) tensor product with the edge's
  harmonics reduces, for each order m, to a complex-linear map of the (+m, −m) coefficients of
  all degrees l ≥ m: ỹ_{+m} = W₁ x̃_{+m} − W₂ x̃_{−m}, ỹ_{−m} = W₂ x̃_{+m} + W₁ x̃_{−m}; m = 0 is a
  real linear map. Orders |m| > m_max are dropped (Sec. 4.1, the O(L^6) → O(L^3) saving).
  Weights are modulated by the distance embedding.  → :class:`SO2Convolution`
* Message block (Sec. 5): source and target embeddings rotated into the edge frame and
  concatenated, SO(2) conv → nonlinearity → SO(2) conv, rotated back, summed over neighbours.
  Edge embedding: Gaussian distance basis + source and target element embeddings → MLP.
  → :class:`MessageBlock`, :class:`EdgeEmbedding`
* Layers (Sec. 5): residual message blocks followed by a node-wise feed-forward block; the
  energy is read out from the l = 0 channels.  → :class:`ESCN`
* Optional node interaction (``node_interaction="gaunt"``; Luo et al., ICLR 2024, Sec. 4, who add
  a Gaunt "Selfmix" layer to eSCN): in every layer, after the message has been aggregated and
  added, and before the node block, x ← x + s ⊙ Gaunt(W₁ n(x), W₂ n(x)) with its own equivariant
  layer norm n (pre-norm, as the other blocks) and the scale s zero at initialisation
  (:class:`~equitools.nn.node_interaction.GauntSelfInteraction`). The node features are already
  in its ``(n, (L+1)^2, C)`` layout, so nothing is copied or permuted. ``"none"`` (the default)
  builds no extra module: the published configs and their weights are unchanged.

Choices (where the paper is silent or where exactness asked for it):
the third axis of the edge frame is the coordinate axis least aligned with the edge,
orthogonalised (never degenerate; the result does not depend on it, since every map in the
frame commutes with rotations about the edge axis); the paper's point-wise activation on an S²
grid is only approximately equivariant (aliasing), so the nonlinearity in the edge frame is
exact instead: SiLU on the m = 0 coefficients (invariant under rotations about the edge) and
sigmoid gates, computed from them, on each ±m pair; the node-wise block is a per-degree linear
map + gate + per-degree linear map (gates from the l = 0 channels) instead of the grid MLP;
an equivariant layer norm precedes each block (pre-norm residuals); the edge embedding starts
led by the distance (:class:`EdgeEmbedding`), without which the forces did not start to fit.
eSCN is SO(3)-equivariant (not O(3)): its energy is rotation- but not reflection-invariant.

Implementation (not part of the architecture, same numbers): in the edge frame the coefficients
are kept by order m (:class:`EdgeRotation`), the layout the SO(2) maps and the gates act on, so
nothing is permuted or zero-filled between the rotation and the rotation back; scalars are not
rotated (D_0 = 1); the cutoff multiplies the back-rotation matrices rather than the messages;
each m > 0 complex product takes three real matrix products instead of four (Gauss's trick); on
a mirrored graph (``EdgeGraph.mirrored``) each pair is rotated once: the reverse edge takes the
frame F R (F the half turn about z), whose blocks are R's times the signs of the diagonal D(F)
(:meth:`EdgeRotation.reversed`), so the Wigner matrices and the rotations in are computed per
pair. On
a CPU the messages run over blocks of edges (``nn.edges.edge_blocks``, budget set by
``nn.edges.edge_block_budget``), so that their large temporaries are reused.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import so3
from .blocks import DegreeLinear, EquivariantLayerNorm, Gate
from .blocks import activation as make_activation
from .cutoff import CosineCutoff
from .edges import EdgeGraph, edge_blocks
from .node_interaction import NODE_INTERACTIONS, GauntSelfInteraction
from .radial import GaussianBasis
from .scatter import gather, index_add


def edge_frames(vec: torch.Tensor) -> torch.Tensor:
    """Rotations ``R`` ``(E, 3, 3)`` with ``R @ (vec / |vec|) = ŷ`` (det +1), for nonzero ``vec``.

    Rows are (u, r̂, u × r̂), u the coordinate axis least aligned with r̂ made orthogonal to it.
    """
    r = vec / torch.linalg.vector_norm(vec, dim=-1, keepdim=True)
    axis = torch.nn.functional.one_hot(r.detach().abs().argmin(dim=-1), 3).to(r.dtype)
    u = axis - (axis * r).sum(-1, keepdim=True) * r
    u = u / torch.linalg.vector_norm(u, dim=-1, keepdim=True)
    w = torch.cross(u, r, dim=-1)
    return torch.stack([u, r, w], dim=-2)


class EdgeRotation(nn.Module):
    """Rotate spherical channels into each edge's frame, truncated to |m| <= m_max, and back.

    In the edge frame the coefficients are kept *by order*, the layout of the SO(2) maps: a list of
    blocks, ``(E, L+1, C)`` for m = 0 (degrees 0..L) and ``(E, 2, L+1-m, C)`` for each m = 1..m_max
    (+m then −m, degrees m..L), so that nothing is permuted between the rotation, the convolutions
    and the activation.
    """

    def __init__(self, lmax: int, mmax: int):
        super().__init__()
        self.lmax, self.mmax = lmax, mmax
        self.k = [min(l, mmax) for l in range(lmax + 1)]  # D_l keeps rows m = -k..k, i.e. indices l + m
        # D(F) of the half turn F about z (F ŷ = -ŷ) is diagonal, ±1: the frame F R of the reverse
        # edge -r̂ gives the blocks of R times these signs (:meth:`reversed`)
        flip = [np.rint(np.diag(d)) for d in so3.wigner_D_all(lmax, np.diag([-1.0, -1.0, 1.0]))]
        signs = [flip[l][l] for l in range(lmax + 1)]  # m = 0
        self.register_buffer("reverse_sign_0", torch.tensor(signs).view(-1, 1), persistent=False)
        for m in range(1, mmax + 1):
            signs = [[flip[l][l + sign * m] for l in range(m, lmax + 1)] for sign in (1, -1)]
            self.register_buffer(f"reverse_sign_{m}", torch.tensor(signs).view(2, -1, 1), persistent=False)

    def wigner(self, R: torch.Tensor) -> list[torch.Tensor]:
        """Truncated D matrices per degree: ``(E, 2 min(l, m_max) + 1, 2l+1)``, from ``so3.wigner_D_all``."""
        return [D[:, l - k : l + k + 1, :] for l, (D, k) in enumerate(zip(so3.wigner_D_all(self.lmax, R), self.k))]

    def reversed(self, blocks: list[torch.Tensor]) -> list[torch.Tensor]:
        """Edge-frame blocks in the frame ``F R`` of the reverse edge, from those in ``R``'s (``F`` the
        half turn about z, so ``F R (-r̂) = ŷ``): a sign per (l, m), the diagonal of ``D(F)``."""
        return [b * getattr(self, f"reverse_sign_{m}").to(b.dtype) for m, b in enumerate(blocks)]

    def to_edge(self, x: torch.Tensor, D: list[torch.Tensor]) -> list[torch.Tensor]:
        """``(E, (L+1)^2, C)`` global → the edge-frame blocks by order (see the class)."""
        degrees = x.split([2 * l + 1 for l in range(self.lmax + 1)], dim=1)  # (split: cheap backward)
        # rows[l][k_l + m]; D_0 = 1 (scalars do not rotate)
        rows = [degrees[0].unbind(1)] + [torch.matmul(d, part).unbind(1) for d, part in zip(D[1:], degrees[1:])]
        blocks = [torch.stack([rows[l][k] for l, k in enumerate(self.k)], dim=1)]
        for m in range(1, self.mmax + 1):
            kept = range(m, self.lmax + 1)
            signed = [rows[l][self.k[l] + m] for l in kept] + [rows[l][self.k[l] - m] for l in kept]
            blocks.append(torch.stack(signed, dim=1).view(x.shape[0], 2, len(kept), x.shape[-1]))
        return blocks

    def from_edge(
        self, blocks: list[torch.Tensor], D: list[torch.Tensor], scale: torch.Tensor | None = None
    ) -> list[torch.Tensor]:
        """Edge-frame blocks → global coefficients, per degree ``(E, 2l+1, C)`` (the transpose rotation),
        times ``scale`` ``(E,)`` if given (folded into the rotation matrices, the cheaper side).

        Per degree rather than concatenated: the double backward of a concatenation fills a
        zero tensor of the whole per-edge size for each piece.
        """
        zero = blocks[0].unbind(1)  # zero[l]
        signed = [[half.unbind(1) for half in b.unbind(1)] for b in blocks[1:]]  # [m - 1][0: +m, 1: -m][l - m]
        out = [zero[0].unsqueeze(1) if scale is None else zero[0].unsqueeze(1) * scale.view(-1, 1, 1)]  # D_0 = 1
        for l, (d, k) in enumerate(zip(D[1:], self.k[1:]), start=1):
            rows = [signed[m - 1][1][l - m] for m in range(k, 0, -1)] + [zero[l]]
            rows += [signed[m - 1][0][l - m] for m in range(1, k + 1)]
            back = d.transpose(1, 2) if scale is None else d.transpose(1, 2) * scale.view(-1, 1, 1)
            out.append(torch.matmul(back, torch.stack(rows, dim=1)))
        return out


class SO2Convolution(nn.Module):
    """SO(2)-equivariant linear map of edge-frame blocks by order (:class:`EdgeRotation`), ``C_in`` →
    ``C_out`` channels.

    Per order m: all degrees l ≥ m (and their channels) are flattened and mixed, m = 0 by one real
    matrix, m > 0 by a complex one (W₁, W₂) acting on (x_{+m}, x_{−m}). The inputs of each order are
    first scaled by a linear function of the edge embedding (the same for +m and −m).
    ``extra_m0``: additional invariant outputs ``(E, extra_m0)`` from the m = 0 part (returned separately).
    """

    def __init__(
        self, lmax: int, mmax: int, in_channels: int, out_channels: int, edge_channels: int, extra_m0: int = 0
    ):
        super().__init__()
        self.lmax, self.mmax = lmax, mmax
        self.in_channels, self.out_channels, self.extra_m0 = in_channels, out_channels, extra_m0
        sizes = [lmax + 1 - m for m in range(mmax + 1)]
        self.sizes = sizes
        self.radial = nn.Linear(edge_channels, sum(sizes) * in_channels)
        self.fc = nn.ModuleList()
        self.fc.append(nn.Linear(sizes[0] * in_channels, sizes[0] * out_channels + extra_m0))
        for m in range(1, mmax + 1):  # weight (W₁ ‖ W₂), stacked along the outputs
            self.fc.append(nn.Linear(sizes[m] * in_channels, 2 * sizes[m] * out_channels, bias=False))

    def forward(self, blocks: list[torch.Tensor], edge: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        E = edge.shape[0]
        Ci, Co = self.in_channels, self.out_channels
        scale = self.radial(edge).split([s * Ci for s in self.sizes], dim=-1)
        y0, extra = self.fc[0](blocks[0].reshape(E, self.sizes[0] * Ci) * scale[0]).split(
            [self.sizes[0] * Co, self.extra_m0], dim=-1
        )
        outs = [y0.reshape(E, self.sizes[0], Co)]
        for m in range(1, self.mmax + 1):
            n = self.sizes[m]
            xp, xn = (blocks[m].reshape(E, 2, n * Ci) * scale[m].unsqueeze(1)).unbind(1)
            w1, w2 = self.fc[m].weight.view(2, n * Co, n * Ci).unbind(0)
            # +m: W₁ x₊ − W₂ x₋, −m: W₂ x₊ + W₁ x₋ in three products instead of four (Gauss's
            # complex multiplication): k₁ = (W₁ + W₂) x₊, k₂ = W₁ (x₋ − x₊), k₃ = W₂ (x₊ + x₋)
            k1, k2, k3 = xp @ (w1 + w2).t(), (xn - xp) @ w1.t(), (xp + xn) @ w2.t()
            outs.append(torch.stack([k1 - k3, k1 + k2], dim=1).view(E, 2, n, Co))
        return outs, extra


class EdgeFrameActivation(nn.Module):
    """Exact nonlinearity on edge-frame blocks: SiLU on the m = 0 block, sigmoid gates on each ±m block.

    ``gates``: ``(E, m_max · C)`` invariant pre-activations, one per order m > 0 and channel.
    """

    def __init__(self, mmax: int, act: str):
        super().__init__()
        self.act = make_activation(act)
        self.mmax = mmax

    def forward(self, blocks: list[torch.Tensor], gates: torch.Tensor) -> list[torch.Tensor]:
        E, _, C = blocks[0].shape
        g = torch.sigmoid(gates).view(E, self.mmax, 1, 1, C).unbind(1)
        return [self.act(blocks[0])] + [b * gm for b, gm in zip(blocks[1:], g)]


class EdgeEmbedding(nn.Module):
    """Edge features from the distance (Gaussian basis) and the two elements (Sec. 5).

    Initialised so that the distance leads: the distance projection has unit variance over
    distances (weights N(0, 1 / Σ_k φ_k(r)²), the squared sum of the basis being constant,
    ``GaussianBasis.square_sum``), and the element embeddings start at U(±0.001), as in the
    published eSCN code. With PyTorch's default initialisation instead (distance part of std
    ~0.1 beside element parts of std 1), a 2-layer eSCN on rMD17 aspirin (Adam, lr 1e-3, batch 8)
    still had its initial validation force MAE, 947 meV/Å, after 100 steps; with this one it
    had 450 meV/Å.
    """

    def __init__(self, basis: GaussianBasis, edge_channels: int, max_z: int, act: str):
        super().__init__()
        self.fc_dist = nn.Linear(basis.num_basis, edge_channels)
        self.source_embedding = nn.Embedding(max_z + 1, edge_channels)
        self.target_embedding = nn.Embedding(max_z + 1, edge_channels)
        self.fc_edge = nn.Linear(edge_channels, edge_channels)
        self.act = make_activation(act)
        nn.init.normal_(self.fc_dist.weight, std=basis.square_sum**-0.5)
        nn.init.zeros_(self.fc_dist.bias)
        for embedding in (self.source_embedding, self.target_embedding):
            nn.init.uniform_(embedding.weight, -1e-3, 1e-3)

    def forward(self, basis: torch.Tensor, z: torch.Tensor, graph: EdgeGraph) -> torch.Tensor:
        radial = self.fc_dist(basis).index_select(0, graph.pair)
        x = (
            radial
            + self.source_embedding(z).index_select(0, graph.edge_index[0])
            + self.target_embedding(z).index_select(0, graph.edge_index[1])
        )
        return self.act(self.fc_edge(self.act(x)))


class MessageBlock(nn.Module):
    """Edge-frame message: rotate, SO(2) conv → activation → SO(2) conv, rotate back, sum."""

    def __init__(self, lmax: int, mmax: int, sphere_channels: int, hidden_channels: int, edge_channels: int, act: str):
        super().__init__()
        self.mmax = mmax
        self.conv1 = SO2Convolution(
            lmax, mmax, 2 * sphere_channels, hidden_channels, edge_channels, extra_m0=mmax * hidden_channels
        )
        self.activation = EdgeFrameActivation(mmax, act)
        self.conv2 = SO2Convolution(lmax, mmax, hidden_channels, sphere_channels, edge_channels)

    def forward(
        self,
        x: torch.Tensor,
        edge: torch.Tensor,
        graph: EdgeGraph,
        rotation: EdgeRotation,
        D: list[torch.Tensor],
        cut: torch.Tensor,
    ) -> torch.Tensor:
        n, K, C = x.shape
        out = [x.new_zeros(n, 2 * l + 1, C) for l in range(rotation.lmax + 1)]  # per degree
        reverse = graph.mirrored  # then D has one frame per pair, and edge e + frames reverses edge e
        frames = D[0].shape[0]
        per_frame = K * max(self.conv1.in_channels, self.conv1.out_channels) * (2 if reverse else 1)
        for block in edge_blocks(frames, per_frame * x.element_size(), x.device):
            src, dst = graph.edge_index[0, block], graph.edge_index[1, block]
            Db = [d[block] for d in D]
            # (E, (L+1)^2, 2C), source channels then target channels; a stack, whose double backward
            # fills no zeros (a concatenation's does)
            pair = torch.stack([gather(x, src), gather(x, dst)], dim=2).view(-1, K, 2 * C)
            forward = rotation.to_edge(pair, Db)
            out = self._send(out, forward, edge[block], Db, cut[block], dst, rotation)
            if reverse:  # the same pairs from the other end: source and target swapped, frame F R
                swapped = [b.unflatten(-1, (2, C)).flip(-2).flatten(-2) for b in forward]
                back = slice(block.start + frames, block.stop + frames)
                out = self._send(out, rotation.reversed(swapped), edge[back], Db, cut[block], src, rotation, True)
        return torch.cat(out, dim=1)

    def _send(
        self,
        out: list[torch.Tensor],
        blocks: list[torch.Tensor],
        edge: torch.Tensor,
        D: list[torch.Tensor],
        cut: torch.Tensor,
        target: torch.Tensor,
        rotation: EdgeRotation,
        reverse: bool = False,
    ) -> list[torch.Tensor]:
        """``out`` (per degree) plus the messages of edge-frame ``blocks`` to the atoms ``target``;
        ``reverse``: the blocks are in the frames ``F R`` of the reverse edges, ``D`` is of ``R``."""
        h, gates = self.conv1(blocks, edge)
        h, _ = self.conv2(self.activation(h, gates), edge)
        if reverse:
            h = rotation.reversed(h)  # D(F R)ᵀ = D(R)ᵀ D(F), D(F) diagonal
        return [index_add(o, target, part) for o, part in zip(out, rotation.from_edge(h, D, cut))]


class NodeBlock(nn.Module):
    """Node-wise feed-forward block: per-degree linear → gate (from l = 0) → per-degree linear."""

    def __init__(self, lmax: int, sphere_channels: int, hidden_channels: int, act: str):
        super().__init__()
        self.lmax = lmax
        self.hidden_channels = hidden_channels
        self.linear1 = DegreeLinear(lmax, sphere_channels, hidden_channels)
        self.gates = nn.Linear(sphere_channels, lmax * hidden_channels) if lmax > 0 else None
        self.gate = Gate(lmax, act)
        self.linear2 = DegreeLinear(lmax, hidden_channels, sphere_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.linear1(x)
        if self.gates is not None:
            g = self.gates(x[:, 0]).view(x.shape[0], self.lmax, self.hidden_channels)
        else:
            g = h.new_zeros(x.shape[0], 0, self.hidden_channels)
        return self.linear2(self.gate(h, g))


class ESCN(nn.Module):
    """eSCN representation: invariant atomic features ``(n_atoms, sphere_channels)`` (the l = 0 part).

    Every hyperparameter is required (names as in the config, ``docs/config.md``); the published
    OC20 values (fairchem's eSCN: L_max 6, m_max 2, 128 sphere channels, 256 hidden channels, 128
    edge channels, 8 layers, cutoff 8 Å, 400 Gaussians, one every 0.02 Å) are the defaults of
    ``equitools.models.build``; ``configs/`` gives molecules a smaller model.
    """

    def __init__(
        self,
        *,
        sphere_channels: int,
        hidden_channels: int,
        edge_channels: int,
        num_layers: int,
        lmax: int,
        mmax: int,
        num_rbf: int,
        cutoff: float,
        activation: str,
        node_interaction: str,
        max_z: int,
    ):
        super().__init__()
        if lmax < 0 or not 0 <= mmax <= lmax:
            raise ValueError(f"need 0 <= mmax <= lmax, got lmax={lmax}, mmax={mmax}")
        if node_interaction not in NODE_INTERACTIONS:
            raise ValueError(f"node_interaction must be one of {list(NODE_INTERACTIONS)}, got {node_interaction!r}")
        self.lmax, self.mmax = lmax, mmax
        self.sphere_channels = sphere_channels
        self.num_features = sphere_channels
        self.cutoff = float(cutoff)
        self.sphere_embedding = nn.Embedding(max_z + 1, sphere_channels)
        self.distance_expansion = GaussianBasis(0.0, cutoff, num_rbf)
        self.cut = CosineCutoff(cutoff)
        self.edge_embedding = EdgeEmbedding(self.distance_expansion, edge_channels, max_z, activation)
        self.rotation = EdgeRotation(lmax, mmax)
        self.message_norms = nn.ModuleList(EquivariantLayerNorm(lmax, sphere_channels) for _ in range(num_layers))
        self.messages = nn.ModuleList(
            MessageBlock(lmax, mmax, sphere_channels, hidden_channels, edge_channels, activation)
            for _ in range(num_layers)
        )
        self.node_norms = nn.ModuleList(EquivariantLayerNorm(lmax, sphere_channels) for _ in range(num_layers))
        self.nodes = nn.ModuleList(
            NodeBlock(lmax, sphere_channels, hidden_channels, activation) for _ in range(num_layers)
        )
        self.out_norm = EquivariantLayerNorm(0, sphere_channels)
        self.interaction_norms = self.interactions = None
        if node_interaction == "gaunt":
            self.interaction_norms = nn.ModuleList(
                EquivariantLayerNorm(lmax, sphere_channels) for _ in range(num_layers)
            )
            self.interactions = nn.ModuleList(GauntSelfInteraction(lmax, sphere_channels) for _ in range(num_layers))

    def forward(self, z: torch.Tensor, graph: EdgeGraph) -> torch.Tensor:
        n = z.shape[0]
        scalars = self.sphere_embedding(z).unsqueeze(1)  # (n, 1, C): l = 0; higher degrees start at zero
        x = torch.cat([scalars, scalars.new_zeros(n, (self.lmax + 1) ** 2 - 1, self.sphere_channels)], dim=1)
        r = graph.length.index_select(0, graph.pair_edge)
        edge = self.edge_embedding(self.distance_expansion(r), z, graph)
        cut = self.cut(graph.length)
        # mirrored graphs: one frame per pair (the reverse edge's is derived from it)
        vec = graph.vec[: graph.vec.shape[0] // 2] if graph.mirrored else graph.vec
        D = self.rotation.wigner(edge_frames(vec))
        for k, (message, node) in enumerate(zip(self.messages, self.nodes)):
            x = x + message(self.message_norms[k](x), edge, graph, self.rotation, D, cut)
            if self.interactions is not None:
                x = x + self.interactions[k](self.interaction_norms[k](x))
            x = x + node(self.node_norms[k](x))
        return self.out_norm(x[:, :1]).squeeze(1)
