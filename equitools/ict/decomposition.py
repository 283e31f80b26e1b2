"""ICT decomposition matrices and the decomposition of Cartesian tensors into irreducible parts.

For a path matrix P (``(2L+1, 3**n)``) the ICT decomposition matrix is the orthogonal projector
P^T P (``(3**n, 3**n)``); over all paths they sum to the identity. Summed per final weight L they
give the isotypic projectors P_L^T P_L, which do not depend on the coupling order.

:func:`decompose` applies these projectors to data: with the dense stacked path matrices at low
rank, and from ``MATRIX_FREE_MIN_RANK`` on as ``from_irreps(mask(to_irreps(T)))`` through the
matrix-free transforms (:mod:`equitools.ict.matrix_free`; the mask keeps one weight's or one
path's coefficients, and the inverse transform skips the blocks the mask zeroes).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np

from ..so3._backend import is_torch, like
from . import matrix_free
from .path_matrices import PathMatrices, _row_offsets, path_matrices
from .paths import check_rank, coupling_paths

CACHED_MAX_RANK = 7  # path matrices up to this rank (38 MB) are kept for repeated decompositions
MATRIX_FREE_MIN_RANK = 7  # decompose() applies the path matrices matrix-free from this rank on (measured)


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
    keys are paths) or ``"weight"`` (the isotypic parts: summed per final weight L, keys are L,
    at most rank+1 of them). Returns a dict of arrays shaped like ``tensor`` (numpy: float64;
    torch: the input's dtype and device, differentiable).

    Below rank ``MATRIX_FREE_MIN_RANK`` (7) the dense stacked path matrices are used (cached up to
    rank 7); from rank 7 on, the matrix-free transforms of :mod:`equitools.ict.matrix_free` (no
    9ⁿ matrix, so ``by="weight"`` works at rank 12; ``by="path"`` is then limited only by its
    output, one full tensor per path). Crossover, measured side by side (numpy float64, one BLAS
    thread for both, busy 2-core machine, dense matrices already cached, best of 2-5 runs; times
    are dense vs matrix-free): rank 6, dense faster (by weight 0.13 vs 1.0 ms at batch 1, 3.9 vs
    5.8 ms at batch 64); rank 7, matrix-free faster at batch 64 (by weight 95 vs 39 ms, by path
    0.72 vs 0.21 s), about even by weight at batch 1 (2-10 ms each, noisy) and dense faster by
    path at batch 1 (17 vs 38 ms); rank 8, the dense route must first build a 344 MB matrix
    (0.2-3 s) while matrix-free takes 5 ms (batch 1) and 0.19 s (batch 64). Rank 10, batch 64,
    by weight: 0.8 s of CPU time, 0.7 GB peak memory.

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
    >>> parts = decompose(np.random.default_rng(0).standard_normal((2,) + (3,) * 12), rank=12, by="weight")
    >>> len(parts), parts[12].shape  # rank 12, matrix-free (the dense matrix would need 2 TB)
    (13, (2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3))
    """
    shape = tuple(tensor.shape)
    rank = len(shape) if rank is None else rank
    check_rank(rank)
    if len(shape) < rank or any(s != 3 for s in shape[len(shape) - rank :]):
        raise ValueError(f"expected trailing shape {(3,) * rank} for a rank-{rank} tensor, got {shape}")
    if by not in ("path", "weight"):
        raise ValueError(f"by must be 'path' or 'weight', got {by!r}")
    if rank >= MATRIX_FREE_MIN_RANK:
        return {key: part.reshape(shape) for key, part in _matrix_free_parts(tensor, rank, by).items()}
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


def _matrix_free_parts(tensor, rank: int, by: str) -> dict:
    """The parts as contiguous ``(..., 3**rank)`` arrays, through the matrix-free transforms.

    numpy: the independent inverse transforms run on a thread pool, BLAS on one thread each.
    """
    flat, batch = matrix_free._batch(tensor, rank, "tensor")
    if is_torch(flat):
        return _parts(flat, batch, rank, by, map)
    with matrix_free._one_blas_thread(flat), ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        return _parts(flat, batch, rank, by, pool.map)


def _parts(flat, batch: tuple, rank: int, by: str, map_) -> dict:
    coefficients = matrix_free._forward(flat, rank)
    if by == "weight":
        keys = list(matrix_free._multiplicities(rank))

        def part(L):
            return matrix_free._unbatch(matrix_free._inverse(coefficients, rank, weights=range(L, L + 1)), batch)

    else:
        keys = list(coupling_paths(rank))
        offsets = dict(zip(keys, _row_offsets(keys)))

        def part(path):
            start = int(offsets[path])
            rows = coefficients[:, start : start + 2 * path[-1] + 1]
            return matrix_free._unbatch(matrix_free._path_inverse(rows, path), batch)

    return dict(zip(keys, map_(part, keys)))
