"""Building blocks and interaction layers (torch).

Blocks: radial bases (:mod:`.radial`), cutoffs (:mod:`.cutoff`), scatter (:mod:`.scatter`),
MLPs, element embeddings, equivariant layer norm, gates and per-degree linear maps
(:mod:`.blocks`), equivariant linear maps of Cartesian tensors (:mod:`.cartesian`), the
irreducible Cartesian tensor product (:mod:`.cartesian_product`), the
tensorial readout (:mod:`.tensor_readout`), the Gaunt self-interaction (:mod:`.node_interaction`),
the model graph (:mod:`.edges`, :mod:`.graph`). Architectures, one per file:
:mod:`.tensornet`, :mod:`.escn`, :mod:`.freecg` (imported on use, not by this package).
"""

from .blocks import MLP, DegreeLinear, ElementEmbedding, EquivariantLayerNorm, Gate, activation
from .cartesian import CartesianLinear, EquivariantLinear
from .cartesian_product import CartesianTensorProduct
from .cutoff import CosineCutoff, PolynomialCutoff, cutoff_function
from .edges import EdgeGraph, build_edges, edge_block_budget, pair_indices
from .graph import periodic_radius_graph, radius_graph
from .node_interaction import GauntSelfInteraction
from .radial import BesselBasis, ExpNormalBasis, GaussianBasis, radial_basis
from .scatter import scatter_mean, scatter_softmax, scatter_sum
from .tensor_readout import TensorReadout

__all__ = [
    "MLP",
    "BesselBasis",
    "CartesianLinear",
    "CartesianTensorProduct",
    "CosineCutoff",
    "DegreeLinear",
    "EdgeGraph",
    "ElementEmbedding",
    "EquivariantLayerNorm",
    "EquivariantLinear",
    "ExpNormalBasis",
    "Gate",
    "GauntSelfInteraction",
    "GaussianBasis",
    "PolynomialCutoff",
    "TensorReadout",
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
