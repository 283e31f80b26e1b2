"""Irreducible Cartesian tensors: coupling paths, path matrices, ICT decomposition matrices,
orthogonal bases of equivariant maps, irreducible bases of index-symmetric tensors, save/load.
numpy/scipy/sympy only (no torch needed)."""

from .decomposition import DecompositionMatrices, decompose, decomposition_matrices
from .equivariant import EquivariantBasis, Space, equivariant_basis
from .io import PathMatricesFileError, load, save
from .matrix_free import from_irreps, to_irreps
from .path_matrices import PathMatrices, path_matrices, product_path_matrices
from .paths import coupling_paths, irreps_string, product_paths
from .reduced import ReducedBasis, reduced_basis

__all__ = [
    "DecompositionMatrices",
    "EquivariantBasis",
    "PathMatrices",
    "PathMatricesFileError",
    "ReducedBasis",
    "Space",
    "coupling_paths",
    "decompose",
    "decomposition_matrices",
    "equivariant_basis",
    "from_irreps",
    "irreps_string",
    "load",
    "path_matrices",
    "product_path_matrices",
    "product_paths",
    "reduced_basis",
    "save",
    "to_irreps",
]
