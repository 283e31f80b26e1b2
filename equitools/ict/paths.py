"""Coupling paths of the parentage scheme.

A tensor product of irreps l_1 ⊗ l_2 ⊗ … ⊗ l_n is reduced by coupling the factors in order:
path ``(L_1, L_2, …, L_n)`` with L_1 = l_1 and |L_{k-1} - l_k| <= L_k <= L_{k-1} + l_k. A rank-n
Cartesian tensor is the case l_k = 1 for all k (its paths start with 1: ``(1, l_2, …, l_n)``).

**Order** (used everywhere: rows of stacked path matrices, decompositions, saved files): paths
are sorted by their *reversed* tuple, ``(L_n, L_{n-1}, …, L_2)``. So all paths of one final
weight L_n are contiguous and ascending in L_n — the stacked rows carry the e3nn irreps
``"3x0e+6x1e+6x2e+3x3e+1x4e"`` (n = 4) in that order — and, within a weight, the children of
one parent weight are contiguous, which lets the recursion rank n-1 → n work block by block.
"""

from __future__ import annotations

from collections import Counter
from functools import cache

from ..so3.basis import check_degree


def check_rank(n: int) -> int:
    """Validate a tensor rank (a positive integer)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"rank must be a positive integer, got {n!r}")
    return n


def _as_degrees(degrees) -> tuple[int, ...]:
    degrees = tuple(check_degree(l, "degree") for l in degrees)
    if not degrees:
        raise ValueError("a tensor product needs at least one factor")
    return degrees


@cache
def product_paths(degrees: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Coupling paths of ``l_1 ⊗ … ⊗ l_n`` (degrees given as a tuple), in the documented order.

    >>> product_paths((1, 2))  # 1 ⊗ 2 = 1 + 2 + 3
    ((1, 1), (1, 2), (1, 3))
    """
    degrees = _as_degrees(degrees)
    paths = [(degrees[0],)]
    for l in degrees[1:]:
        paths = [
            parent + (L,)
            for L in range(0, max(p[-1] for p in paths) + l + 1)
            for parent in paths
            if abs(parent[-1] - l) <= L <= parent[-1] + l
        ]
    return tuple(paths)


def coupling_paths(n: int) -> tuple[tuple[int, ...], ...]:
    """Paths ``(1, l_2, …, l_n)`` of a rank-n Cartesian tensor (1, 3, 7, 19, 51, 141, … of them).

    >>> coupling_paths(2)  # trace, antisymmetric and symmetric-traceless parts
    ((1, 0), (1, 1), (1, 2))
    >>> len(coupling_paths(4))
    19
    """
    return product_paths((1,) * check_rank(n))


def irreps_string(paths, parity: int = 1) -> str:
    """e3nn Irreps string of consecutive final weights, e.g. ``"3x0e+6x1e+6x2e+3x3e+1x4e"``.

    ``parity``: +1 ("e") or -1 ("o"); a rank-n Cartesian tensor has parity (-1)^n.

    >>> irreps_string(coupling_paths(4))
    '3x0e+6x1e+6x2e+3x3e+1x4e'
    >>> irreps_string(coupling_paths(3), parity=-1)
    '1x0o+3x1o+2x2o+1x3o'
    """
    suffix = "e" if parity == 1 else "o"
    counts = Counter(p[-1] for p in paths)
    return "+".join(f"{counts[L]}x{L}{suffix}" for L in sorted(counts))
