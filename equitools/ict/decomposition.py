"""ICT decomposition matrices and the decomposition of Cartesian tensors into irreducible parts.

For a path matrix P (``(2L+1, 3**n)``) the ICT decomposition matrix is the orthogonal projector
P^T P (``(3**n, 3**n)``); over all paths they sum to the identity. Summed per final weight L they
give the isotypic projectors P_L^T P_L, which do not depend on the coupling order.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..so3._backend import is_torch, like
from .path_matrices import PathMatrices, path_matrices
from .paths import check_rank

CACHED_MAX_RANK = 7  # path matrices up to this rank (38 MB) are kept for repeated decompositions


@cache
def _cached_path_matrices(n: int) -> PathMatrices:
    return path_matrices(n)


def _path_matrices(n: int) -> PathMatrices:
    return _cached_path_matrices(n) if n <= CACHED_MAX_RANK else path_matrices(n)


class DecompositionMatrices:
    """Lazy ICT decomposition matrices of a rank-n Cartesian tensor.

    ``dm[path]``: the ``(3**n, 3**n)`` projector of one path, made on access (dense, or CSR when
    the path matrices are sparse); ``dm.weight(L)``: the sum over paths of final weight L;
    iterating yields ``(path, projector)`` one at a time, so thousands of 3^n x 3^n matrices
    are never held at once.

    >>> dm = decomposition_matrices(2)
    >>> len(dm), dm.weights, dm[(1, 0)].shape
    (3, [0, 1, 2], (9, 9))
    >>> bool(np.allclose(sum(P for _, P in dm), np.eye(9)))  # the projectors sum to the identity
    True
    """

    def __init__(self, pm: PathMatrices):
        self.path_matrices = pm
        self.paths = pm.paths

    @property
    def weights(self) -> list[int]:
        """Final weights L present, ascending."""
        return sorted({p[-1] for p in self.paths})

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, path):
        block = self.path_matrices.stacked()[self.path_matrices.rows(path)]
        return block.T @ block

    def weight(self, L: int):
        """Projector onto all components of weight L: ``(3**n, 3**n)``."""
        block = self.path_matrices.stacked()[self.path_matrices.weight_rows(L)]
        return block.T @ block

    def __iter__(self):
        for path in self.paths:
            yield path, self[path]


def decomposition_matrices(
    n: int, dtype=np.float64, exact: bool = False, sparse: bool = False
) -> DecompositionMatrices:
    """ICT decomposition matrices of a rank-n Cartesian tensor (lazy; see :class:`DecompositionMatrices`).

    >>> dm = decomposition_matrices(3)
    >>> len(dm), dm.weight(3).shape
    (7, (27, 27))
    >>> round(float(np.trace(dm.weight(3))))  # the projector's rank: 2L+1 = 7
    7
    """
    n = check_rank(n)
    pm = (
        _path_matrices(n)
        if (dtype == np.float64 and not exact and not sparse)
        else path_matrices(n, dtype, exact, sparse)
    )
    return DecompositionMatrices(pm)


def decompose(tensor, rank: int | None = None, by: str = "path") -> dict:
    """Split Cartesian tensors into their irreducible (ICT) parts; the parts sum back to the input.

    tensor: numpy array or torch tensor ``(..., 3, …, 3)`` with ``rank`` trailing axes of size 3
    (``rank=None``: every axis is a tensor axis). by: ``"path"`` (one part per coupling path,
    keys are paths) or ``"weight"`` (parts summed per final weight L, keys are L).
    Returns a dict of arrays shaped like ``tensor``.

    >>> T = np.arange(9.0).reshape(3, 3)
    >>> parts = decompose(T)
    >>> list(parts)
    [(1, 0), (1, 1), (1, 2)]
    >>> bool(np.allclose(parts[(1, 0)], np.trace(T) / 3 * np.eye(3)))  # the trace part
    True
    >>> bool(np.allclose(parts[(1, 1)], (T - T.T) / 2)), bool(np.allclose(sum(parts.values()), T))
    (True, True)
    >>> list(decompose(np.ones((5, 3, 3)), rank=2, by="weight"))  # a batch of 5; keys are L
    [0, 1, 2]
    """
    shape = tuple(tensor.shape)
    rank = len(shape) if rank is None else rank
    check_rank(rank)
    if len(shape) < rank or any(s != 3 for s in shape[len(shape) - rank :]):
        raise ValueError(f"expected trailing shape {(3,) * rank} for a rank-{rank} tensor, got {shape}")
    if by not in ("path", "weight"):
        raise ValueError(f"by must be 'path' or 'weight', got {by!r}")
    pm = _path_matrices(rank)
    stack = like(pm.array(), tensor) if is_torch(tensor) else pm.array()
    flat = tensor.reshape(shape[: len(shape) - rank] + (3**rank,))
    coefficients = flat @ stack.T
    groups = (
        {p: pm.rows(p) for p in pm.paths}
        if by == "path"
        else {L: pm.weight_rows(L) for L in sorted({p[-1] for p in pm.paths})}
    )
    return {key: (coefficients[..., rows] @ stack[rows]).reshape(shape) for key, rows in groups.items()}
