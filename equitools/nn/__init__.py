"""Building blocks and interaction layers (torch).

Blocks: radial bases (:mod:`.radial`), cutoffs (:mod:`.cutoff`), scatter (:mod:`.scatter`),
MLPs, element embeddings, equivariant layer norm, gates and per-degree linear maps
(:mod:`.blocks`), the model graph (:mod:`.edges`, :mod:`.graph`). Architectures, one per file:
:mod:`.tensornet`, :mod:`.escn`, :mod:`.freecg` (the latter two import ``so3``/``tp`` lazily).
"""

from .blocks import MLP, DegreeLinear, ElementEmbedding, EquivariantLayerNorm, Gate, activation
from .cutoff import CosineCutoff, PolynomialCutoff, cutoff_function
from .edges import EdgeGraph, build_edges, edge_block_budget, pair_indices
from .graph import periodic_radius_graph, radius_graph
from .radial import BesselBasis, ExpNormalBasis, GaussianBasis, radial_basis
from .scatter import scatter_mean, scatter_softmax, scatter_sum

__all__ = [
    "MLP",
    "BesselBasis",
    "CosineCutoff",
    "DegreeLinear",
    "EdgeGraph",
    "ElementEmbedding",
    "EquivariantLayerNorm",
    "ExpNormalBasis",
    "Gate",
    "GaussianBasis",
    "PolynomialCutoff",
    "activation",
    "build_edges",
    "cutoff_function",
    "edge_block_budget",
    "pair_indices",
    "periodic_radius_graph",
    "radial_basis",
    "radius_graph",
    "scatter_mean",
    "scatter_softmax",
    "scatter_sum",
]
