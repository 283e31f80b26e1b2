"""The memory path matrices need, known before they are built: the check ``equitools ict`` makes.

The stack of path matrices of a rank-n Cartesian tensor (Shao et al. 2024, "High-Rank Irreducible
Cartesian Tensor Decomposition": one path matrix per coupling path, built by the CG recursion
rank n-1 -> n of :mod:`equitools.ict.path_matrices`) is a ``(dim, dim)`` matrix, dim = 3**n, so
its size follows from n and the storage alone:

- dense: ``dim² · itemsize``;
- sparse (CSR): ``nnz · (itemsize + index bytes) + (dim + 1) · index bytes``, the index bytes 4
  (int32) while nnz and dim are below 2**31, else 8, as :func:`path_matrices` allocates them;
- exact: an object array of ``dim²`` pointers plus one sympy number per nonzero entry
  (``EXACT_ENTRY_BYTES``; ``tracemalloc`` measured 164 bytes at rank 5 and 53 at rank 6, where
  sympy shares equal numbers).

nnz is bounded without computing a single value (:func:`nonzeros_bound`): a child entry
``Σ_m C[m, i, M] · P_parent[m, I]`` can be nonzero only where one of its terms is, so the
nonzero pattern of the CG tensors is propagated through the recursion as bitsets (one Python int
per row; the rank n-1 pattern has 3**(2n-2) bits, 48 MB at n = 10; 0.3 s at n = 9, 1 s at
n = 10). Exact cancellations make the real count smaller; bound / real nnz, measured:
1.000 (n = 2), 1.014 (3), 1.033 (4), 1.045 (5), 1.055 (6), 1.062 (7), 1.067 (8), 1.070 (9),
1.071 (10: 480.9 M vs 449.3 M).

The build's peak (:func:`memory_needed`) is larger than its result: the last recursion step holds
the rank n-1 stack (dense float64, dim²/9 · 8 bytes; the earlier steps are 9x smaller) next to
the result, plus per-thread chunk buffers. Verification (:mod:`equitools.ict.verify`) adds a few
vectors of length dim.

Choices (the paper is silent):

- ``MAX_RANK = 10``: stacks are built and tested up to rank 10 (sparse: 5.4 GB, 8.6 GB at peak);
  rank 11 would need about 90 GB at peak even in CSR (4 billion nonzeros with int64 indices, next
  to the 28 GB dense rank-10 parent).
- ``EXACT_MAX_RANK = 7``: exact sympy entries are computed one scalar operation at a time (one
  core), about 10x longer per rank: measured on a shared 2-core machine, rank 6 took 13 s and
  rank 7 2.4 min (150 MB), so rank 8 would take about half an hour and rank 9 hours.
"""

from __future__ import annotations

import os
from functools import cache
from typing import NamedTuple

import numpy as np

from .path_matrices import CHUNK_ELEMENTS, _coupling_matrix, _plan
from .paths import check_rank, product_paths

MAX_RANK = 10
"""The largest rank whose path matrices are built (dense, sparse or exact)."""
EXACT_MAX_RANK = 7
"""The largest rank for which exact (sympy) path matrices are practical."""
EXACT_ENTRY_BYTES = 200
"""Bytes of one nonzero sympy entry of an exact stack (at most 164 measured, rounded up)."""
CHUNK_BUFFERS = 4
"""Arrays of one chunk's size a build thread holds at once (product, output, mask, nonzeros)."""


class MemoryNeed(NamedTuple):
    """Bytes of the built stack (``result``) and the most held at once while building (``peak``)."""

    result: int
    peak: int


def memory_needed(rank: int, *, sparse: bool = False, dtype=np.float64, exact: bool = False) -> MemoryNeed:
    """Bytes that ``path_matrices(rank, dtype, exact, sparse)`` needs, without building anything.

    dense: exact; sparse: an upper bound (see :func:`nonzeros_bound`); exact: an estimate.

    >>> need = memory_needed(9)  # dense float64: 19683² entries of 8 bytes
    >>> need.result, need.peak > need.result
    (3099363912, True)
    >>> memory_needed(4, sparse=True).result  # 1126 nonzeros (at most): float64 + int32 each, 82 indptr
    13840
    """
    rank = _check_supported(rank)
    dtype = np.dtype(dtype)
    if exact and sparse:
        raise ValueError("exact path matrices are dense sympy objects; sparse=True needs exact=False")
    if not exact and dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    dim = 3**rank
    if exact:
        result = dim**2 * 8 + nonzeros_bound(rank) * EXACT_ENTRY_BYTES
        workers = 1
    elif sparse:
        nnz = nonzeros_bound(rank)
        index_bytes = 4 if max(nnz, dim) < 2**31 else 8
        result = nnz * (dtype.itemsize + index_bytes) + (dim + 1) * index_bytes
        workers = os.cpu_count() or 1
    else:
        result = dim**2 * dtype.itemsize
        workers = os.cpu_count() or 1
    if rank == 1:
        return MemoryNeed(result, result)
    parent = (dim // 3) ** 2 * 8  # the rank n-1 stack: float64, or object pointers
    counts = dim * 8 if sparse else 0  # nonzeros per row, counted before the CSR arrays are filled
    chunk = max(CHUNK_ELEMENTS, (2 * rank + 1) * dim) * 8  # a chunk holds at least one parent's children
    return MemoryNeed(result, parent + result + counts + workers * CHUNK_BUFFERS * chunk)


@cache
def nonzeros_bound(rank: int) -> int:
    """An upper bound on the nonzero entries of the rank-``rank`` stack (equal up to rank 2,
    at most 7.2% above up to rank 10), from the CG nonzero patterns alone.

    >>> nonzeros_bound(2), nonzeros_bound(4)  # the real counts: 20, 1090
    (20, 1126)
    """
    rank = _check_supported(rank)
    if rank == 1:
        return 3
    rows = [1 << i for i in range(3)]  # rank 1: the identity; bit I of rows[r] set if entry (r, I) may be nonzero
    width = 3  # columns of the current stack
    for k in range(2, rank + 1):
        last, child, total = k == rank, [], 0
        for block in _plan(product_paths((1,) * (k - 1)), 1):
            may = _coupling_matrix(block.L, 1, block.L_new, exact=False) != 0  # rows (M, i), columns m
            sources = [[np.flatnonzero(may[M * 3 + i]) for i in range(3)] for M in range(2 * block.L_new + 1)]
            for p in range(block.count):
                first = block.parent_start + p * (2 * block.L + 1)
                for per_M in sources:  # child rows (p, M); columns (i, I) here, the new index slowest:
                    parts = [_union(rows, first, ms) for ms in per_M]  # a column permutation keeps counts
                    if last:
                        total += sum(part.bit_count() for part in parts)
                    else:
                        child.append(parts[0] | parts[1] << width | parts[2] << 2 * width)
        rows, width = child, width * 3
    return total


def _union(rows: list[int], first: int, offsets) -> int:
    bits = 0
    for m in offsets:
        bits |= rows[first + m]
    return bits


def _check_supported(rank: int) -> int:
    rank = check_rank(rank)
    if rank > MAX_RANK:
        raise ValueError(f"rank must be at most {MAX_RANK} for path matrices, got {rank}")
    return rank


def format_bytes(n: int) -> str:
    """``n`` bytes in binary units, three significant digits: ``'26 GiB'``, ``'8.33 GiB'``, ``'512 B'``.

    >>> format_bytes(27_894_275_208), format_bytes(3 * 2**20 // 2), format_bytes(512)
    ('26 GiB', '1.5 MiB', '512 B')
    """
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} B"
