"""FreeCG: the CG transform on permutation-invariant abstract edges (Shao, Geng, Wang et al.,
2024, arXiv:2407.02263), on a ViSNet backbone (Wang et al., arXiv:2210.16518).

Atoms carry scalars ``x`` ``(n, C)`` and spherical features ``vec`` ``(n, 8, C)``: the l = 1
(3 rows, x y z) and l = 2 (5 rows) components of e3nn's real basis, channels last. Edges carry
invariant features ``f`` ``(E, C)`` and the harmonics ``d`` ``(E, 8)`` of the edge direction
(``so3.spherical_harmonics``, unit norm per degree). Paper → code:

* Embedding (ViSNet Sec. 3.2): element embedding + neighbour embedding
  x_i ← W[x_i ‖ Σ_j φ(r_ij) W_r e(r_ij) ⊙ E'(z_j)]; edge features f_ij = W_f e(r_ij) ⊙ (x_i + x_j);
  vec = 0.  → :class:`NeighborEmbedding`, :class:`FreeCG`
* ViS-MP message (ViSNet eq. 4–7): multi-head attention
  α_ij = SiLU(Σ_d q_i k_j σ(W_dk f_ij)) φ(r_ij); scalar message m_ij = α_ij v_j σ(W_dv f_ij);
  vector message vec_j s¹_ij + s²_ij d_ij with (s¹, s²) = σ(W_s m_ij); both summed over j.
  → :class:`FreeCGLayer`
* Attention enhancer (FreeCG Sec. 4.4): the logits get + W_a (Σ_m vec_j,m d_ij,m), a term built
  from the neighbour's equivariant features along the edge direction (one per head).
* Abstract edges (FreeCG Sec. 4.1–4.2): the aggregated vector message of atom i, Σ_j (…), is a
  permutation-invariant function of its real edges; its C channels are split into G groups of
  K channels — the abstract edges of atom i — which may then be treated freely.
* Group CG transform with sparse paths (FreeCG Sec. 4.3, eq. 9–11): inside each group g, a CG
  tensor product (``equitools.tp.FullyConnectedCGProduct``, all K×K channel pairs) between the
  abstract edges and the atom's own features (W vec_i ⊙ o¹_i), with per-group weights
  W_g[path, u, v → w], over a sparse set of (l1, l2, l3) paths; added to the aggregated message.
* Abstract-edge shuffling (FreeCG Sec. 4.3): the output channels of the group CG transform are
  cyclically shifted (``shuffle_shift`` = K // 2 channels) so that the groups of the next layer
  mix channels of two groups of this one.
* Update (ViSNet eq. 8–10): dx_i = (vec¹_i · vec²_i) o²_i + o³_i; dvec_i = group-CG + message;
  runtime geometry edge update df_ij = σ(W f_ij) ⊙ ⟨rej_d(W_t vec_i), rej_d(W_s vec_j)⟩ (the
  features of i and j with their components along the edge removed).
* Output: LayerNorm(x) and squared norms of a channel mix of vec, given to the readout.
* Optional node interaction (``node_interaction="gaunt"``; Luo et al., ICLR 2024, Sec. 4, the
  Gaunt "Selfmix"): after every layer's update, (x, vec) ← (x, vec) + s ⊙ Gaunt(W₁ h, W₂ h) on
  h = [LayerNorm(x) ‖ vec] ``(n, 9, C)``, the (L+1)^2 = 9 layout of degrees 0, 1, 2
  (:class:`~equitools.nn.node_interaction.GauntSelfInteraction`, scale s zero at initialisation).
  vec's 8 rows are already the l = 1, 2 rows of that layout (e3nn's order), so the only
  rearrangement is one concatenation along the row axis, with the scalars as the l = 0 row (they
  are layer-normalised first, as every ViS-MP layer sees them; vec is not, as in ViSNet); the
  update is split back by slicing rows 0 and 1..8 (views, no permute). The features' parities
  0e+1o+2e are those of spherical harmonics, for which the Gaunt product is O(3)-equivariant,
  so ``cg_paths="sparse"`` keeps O(3) with it. ``"none"`` (the default) builds no extra module.

Choices where the paper is silent: "sparse" paths are the parity-allowed couplings
1o⊗1o→2e, 1o⊗2e→1o, 2e⊗1o→1o, 2e⊗2e→2e (keeping O(3)); ``cg_paths="full"`` adds
1⊗1→1, 1⊗2→2, 2⊗1→2, 2⊗2→1 and is then SO(3)-only. The shuffle is a cyclic shift of the
channels by half a group (``K // 2``) per layer, so each group of the next layer sees two
groups of this one. No self-loops (the published code adds them), no vector layer norm (the
published default, ``vecnorm_type: none``). The group CG weights start small (std 0.1 /
sqrt(K² · paths)) so that a fresh model is close to ViSNet; each path's K × K channel pairs are
contracted with the weights without forming the outer product of all components (its
memory is small beside the per-edge tensors of the ViS-MP layers). On a CPU the per-edge work
runs over blocks of edges (``nn.edges.edge_blocks``; 8 MiB per (block, 8, C) tensor unless
``nn.edges.edge_block_budget`` says otherwise), so that its temporaries are reused by the
allocator instead of page-faulted afresh; ⟨W_s vec_j, d⟩ of the
edge update is W_s applied to the enhancer's Σ_m vec_j,m d_m (linear in the channels).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import so3
from ..tp import FullyConnectedCGProduct
from .blocks import activation as make_activation
from .cutoff import CosineCutoff
from .edges import EdgeGraph, edge_blocks
from .node_interaction import NODE_INTERACTIONS, GauntSelfInteraction
from .radial import radial_basis
from .scatter import gather, index_add

SPARSE_PATHS = (("1o", "1o", "2e"), ("1o", "2e", "1o"), ("2e", "1o", "1o"), ("2e", "2e", "2e"))
FULL_PATHS = ((1, 1, 1), (1, 1, 2), (1, 2, 1), (1, 2, 2), (2, 1, 1), (2, 1, 2), (2, 2, 1), (2, 2, 2))


def _edge_harmonics(vec: torch.Tensor) -> torch.Tensor:
    """l = 1, 2 harmonics of the edge vectors, unit norm per degree, ``(E, 8)``."""
    return so3.spherical_harmonics([1, 2], vec, normalization="norm")


class GroupCGTransform(nn.Module):
    """The group CG transform: a CG tensor product inside each of G groups of K channels.

    ``a``, ``b``: ``(n, 8, G·K)`` (irreps "1o+2e", channels last). Returns the same shape:
    out[g, w] = Σ_paths Σ_{u,v} W[g, path, u, v, w] (a[g, u] ⊗ b[g, v])_{path}
    (``equitools.tp.FullyConnectedCGProduct`` with one weight set per group, fed the views
    ``(n, 8, G, K)``). "sparse" paths keep O(3); "full" ones need ``group="SO(3)"``.
    """

    def __init__(self, num_groups: int, group_size: int, paths: str):
        super().__init__()
        if paths not in ("sparse", "full"):
            raise ValueError(f"cg_paths must be 'sparse' or 'full', got {paths!r}")
        self.G, self.K = num_groups, group_size
        chosen, group = (SPARSE_PATHS, "O(3)") if paths == "sparse" else (FULL_PATHS, "SO(3)")
        self.tp = FullyConnectedCGProduct(
            "1o+2e", "1o+2e", group_size, group_size, group_size, paths=chosen, group=group, weight_groups=(num_groups,)
        )
        with torch.no_grad():  # small at the start: a fresh model is close to ViSNet
            self.tp.weight.mul_(0.1 / math.sqrt(len(chosen)))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        n = a.shape[0]
        return self.tp(a.view(n, 8, self.G, self.K), b.view(n, 8, self.G, self.K)).view(n, 8, self.G * self.K)


class NeighborEmbedding(nn.Module):
    """ViSNet/TorchMD-ET neighbour embedding: mix each atom's embedding with its neighbours'."""

    def __init__(self, hidden_channels: int, num_rbf: int, max_z: int):
        super().__init__()
        self.distance_proj = nn.Linear(num_rbf, hidden_channels)
        self.embedding = nn.Embedding(max_z + 1, hidden_channels)
        self.combine = nn.Linear(2 * hidden_channels, hidden_channels)

    def forward(self, z, x, graph: EdgeGraph, rbf_pair, cut_pair):
        w = self.distance_proj(rbf_pair) * cut_pair.unsqueeze(-1)  # per pair
        neighbours = graph.neighbour_sum(self.embedding(z), w)
        return self.combine(torch.cat([x, neighbours], dim=-1))


class FreeCGLayer(nn.Module):
    """One ViS-MP layer with the FreeCG group CG transform, attention enhancer and shuffling."""

    def __init__(
        self,
        hidden_channels: int,
        num_heads: int,
        num_groups: int,
        activation: str,
        last_layer: bool,
        cg_paths: str,
        shuffle: bool,
        attention_enhancer: bool,
    ):
        super().__init__()
        C = hidden_channels
        if C % num_heads:
            raise ValueError(f"hidden_channels ({C}) must be divisible by num_heads ({num_heads})")
        if C % num_groups:
            raise ValueError(f"hidden_channels ({C}) must be divisible by num_groups ({num_groups})")
        self.C, self.heads, self.head_dim = C, num_heads, C // num_heads
        self.last_layer = last_layer
        self.shuffle_shift = (C // num_groups) // 2 if shuffle else 0
        self.attention_enhancer = attention_enhancer
        self.layernorm = nn.LayerNorm(C)
        self.act = make_activation(activation)
        self.attn_act = make_activation(activation)
        self.vec_proj = nn.Linear(C, 3 * C, bias=False)
        self.q_proj = nn.Linear(C, C)
        self.k_proj = nn.Linear(C, C)
        self.v_proj = nn.Linear(C, C)
        self.dk_proj = nn.Linear(C, C)
        self.dv_proj = nn.Linear(C, C)
        self.s_proj = nn.Linear(C, 2 * C)
        self.o_proj = nn.Linear(C, 3 * C)
        self.vec_edge_proj = nn.Linear(C, num_heads) if attention_enhancer else None
        self.group_cg = GroupCGTransform(num_groups, C // num_groups, cg_paths)
        if not last_layer:
            self.f_proj = nn.Linear(C, C)
            self.w_src_proj = nn.Linear(C, C, bias=False)
            self.w_trg_proj = nn.Linear(C, C, bias=False)
        for lin in (self.q_proj, self.k_proj, self.v_proj, self.dk_proj, self.dv_proj, self.s_proj, self.o_proj):
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)
        nn.init.xavier_uniform_(self.vec_proj.weight)

    @staticmethod
    def rejected_dot(
        a: torch.Tensor, b: torch.Tensor, d: torch.Tensor, beta: torch.Tensor | None = None
    ) -> torch.Tensor:
        """ViSNet's ⟨rej_d(a), rej_d(b)⟩ over the 8 rows, ``(E, C)``, for a, b ``(E, 8, C)``.

        rej_d(v) = v - (v·d) d; with d unit per degree (|d|² = 2) the cross terms cancel:
        ⟨a - αd, b - βd⟩ = a·b - 2αβ + αβ|d|² = a·b + αβ(|d|² - 2). Evaluated in that form,
        without forming the rejected (E, 8, C) tensors; ``beta`` = b·d ``(E, C)`` if the caller
        has it already.
        """
        alpha = (a * d.unsqueeze(-1)).sum(1)
        if beta is None:
            beta = (b * d.unsqueeze(-1)).sum(1)
        return (a * b).sum(1) + alpha * beta * ((d * d).sum(1, keepdim=True) - 2.0)

    def forward(self, x, vec, f, graph: EdgeGraph, d, cut):
        n, C, H, Dh = x.shape[0], self.C, self.heads, self.head_dim
        x = self.layernorm(x)
        q = self.q_proj(x).view(n, H, Dh)
        k = self.k_proj(x).view(n, H, Dh)
        v = self.v_proj(x).view(n, H, Dh)
        vec1, vec2, vec3 = torch.split(self.vec_proj(vec), C, dim=-1)
        vec_dot = (vec1 * vec2).sum(dim=1)
        if not self.last_layer:
            w_trg, w_src = self.w_trg_proj(vec), self.w_src_proj(vec)
        x_agg, vec_agg, df = x.new_zeros(n, C), vec.new_zeros(vec.shape), []
        for block in edge_blocks(f.shape[0], 8 * C * vec.element_size(), vec.device):
            src, dst = graph.edge_index[0, block], graph.edge_index[1, block]
            m, vec_m, along = self.message(q, k, v, vec, f[block], d[block], cut[block], src, dst)
            x_agg = index_add(x_agg, dst, m)
            vec_agg = index_add(vec_agg, dst, vec_m)  # the abstract edges of each atom
            if not self.last_layer:
                df.append(self.edge_update(w_trg, w_src, f[block], d[block], along, src, dst))
        o1, o2, o3 = torch.split(self.o_proj(x_agg), C, dim=-1)
        dx = vec_dot * o2 + o3
        dvec = self.group_cg(vec_agg, vec3 * o1.unsqueeze(1))
        if self.shuffle_shift:
            dvec = torch.roll(dvec, self.shuffle_shift, dims=-1)
        dvec = dvec + vec_agg
        return dx, dvec, (None if self.last_layer else torch.cat(df))

    def message(self, q, k, v, vec, f, d, cut, src, dst):
        """ViS-MP messages j → i on a block of edges: scalar ``(E, C)``, vector ``(E, 8, C)``, and
        the neighbour's features along the edge Σ_m vec_j,m d_m ``(E, C)`` (None if unused)."""
        H, Dh = self.heads, self.head_dim
        dk = self.act(self.dk_proj(f)).view(-1, H, Dh)
        dv = self.act(self.dv_proj(f)).view(-1, H, Dh)
        vec_j = gather(vec, src)
        along = None
        if self.vec_edge_proj is not None or not self.last_layer:
            along = (vec_j * d.unsqueeze(-1)).sum(1)
        logits = (gather(q, dst) * gather(k, src) * dk).sum(-1)
        if self.vec_edge_proj is not None:  # attention enhancer
            logits = logits + self.vec_edge_proj(along)
        attn = self.attn_act(logits) * cut.unsqueeze(-1)
        m = (gather(v, src) * dv * attn.unsqueeze(-1)).view(-1, self.C)
        s1, s2 = torch.split(self.act(self.s_proj(m)), self.C, dim=-1)
        vec_m = torch.addcmul(s2.unsqueeze(1) * d.unsqueeze(-1), vec_j, s1.unsqueeze(1))
        return m, vec_m, along

    def edge_update(self, w_trg, w_src, f, d, along, src, dst):
        """Runtime geometry df_ij = σ(W f_ij) ⊙ ⟨rej_d(W_t vec_i), rej_d(W_s vec_j)⟩ on a block of
        edges ``(E, C)``; ⟨W_s vec_j, d⟩ = W_s ⟨vec_j, d⟩ (a channel mix) comes from ``along``."""
        a = gather(w_trg, dst)
        b = gather(w_src, src)
        return self.act(self.f_proj(f)) * self.rejected_dot(a, b, d, beta=self.w_src_proj(along))


class FreeCG(nn.Module):
    """FreeCG representation: invariant atomic features ``(n_atoms, 2 · hidden_channels)``.

    Every hyperparameter is required (names as in the config, ``docs/config.md``); the published
    rMD17 values (256 channels, 9 layers, 8 heads, 32 groups × 8 channels, 32 exponential-normal
    radial functions, cosine cutoff 5 Å) are the defaults of ``equitools.models.build``. The
    spherical features are l = 1, 2, as in the paper (there is no l_max to choose).
    """

    def __init__(
        self,
        *,
        hidden_channels: int,
        num_layers: int,
        num_heads: int,
        num_groups: int,
        num_rbf: int,
        cutoff: float,
        activation: str,
        cg_paths: str,
        shuffle: bool,
        attention_enhancer: bool,
        node_interaction: str,
        max_z: int,
    ):
        super().__init__()
        if node_interaction not in NODE_INTERACTIONS:
            raise ValueError(f"node_interaction must be one of {list(NODE_INTERACTIONS)}, got {node_interaction!r}")
        C = hidden_channels
        self.hidden_channels = C
        self.num_features = 2 * C
        self.cutoff = float(cutoff)
        self.embedding = nn.Embedding(max_z + 1, C)
        self.rbf = radial_basis("expnorm", num_rbf, cutoff)
        self.cut = CosineCutoff(cutoff)
        self.neighbor_embedding = NeighborEmbedding(C, num_rbf, max_z)
        self.edge_proj = nn.Linear(num_rbf, C)
        self.layers = nn.ModuleList(
            FreeCGLayer(
                C, num_heads, num_groups, activation, k == num_layers - 1, cg_paths, shuffle, attention_enhancer
            )
            for k in range(num_layers)
        )
        self.out_norm = nn.LayerNorm(C)
        self.vec_out_proj = nn.Linear(C, C, bias=False)
        self.interaction_norms = self.interactions = None
        if node_interaction == "gaunt":
            self.interaction_norms = nn.ModuleList(nn.LayerNorm(C) for _ in range(num_layers))
            self.interactions = nn.ModuleList(GauntSelfInteraction(2, C) for _ in range(num_layers))

    def forward(self, z: torch.Tensor, graph: EdgeGraph) -> torch.Tensor:
        n, C = z.shape[0], self.hidden_channels
        src, dst = graph.edge_index[0], graph.edge_index[1]
        r = graph.length.index_select(0, graph.pair_edge)
        rbf, cut_pair = self.rbf(r), self.cut(r)
        cut = cut_pair.index_select(0, graph.pair)
        d = _edge_harmonics(graph.vec)
        x = self.embedding(z)
        x = self.neighbor_embedding(z, x, graph, rbf, cut_pair)
        f = self.edge_proj(rbf).index_select(0, graph.pair) * (gather(x, src) + gather(x, dst))
        vec = x.new_zeros(n, 8, C)
        for k, layer in enumerate(self.layers):
            dx, dvec, df = layer(x, vec, f, graph, d, cut)
            x = x + dx
            vec = vec + dvec
            if self.interactions is not None:
                h = self.interactions[k](torch.cat([self.interaction_norms[k](x).unsqueeze(1), vec], dim=1))
                x = x + h[:, 0]
                vec = vec + h[:, 1:]
            if df is not None:
                f = f + df
        w = self.vec_out_proj(vec)
        return torch.cat([self.out_norm(x), (w * w).sum(1)], dim=-1)
