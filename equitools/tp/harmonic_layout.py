"""Layouts of stacked harmonic coefficients shared by the Gaunt methods: the component map on
channels-last features, and the (v, c, l) "pair" layout.

A vector of ``(L+1)^2`` coefficients (degree-major, m = -l..l, e3nn's order) is rearranged into
an ``(L+1, 2, L+1)`` array indexed by the azimuthal frequency v = |m|, c (0: m = +v, the cos(vφ)
harmonic; 1: m = -v, the sin(vφ) one) and l, zero where l < v or (v, c) = (0, 1). A transform
that is block-diagonal in v (the SH ↔ 2D Fourier conversions) then acts on one frequency at a
time: a batched matmul over v instead of one block-sparse matrix.
"""

from __future__ import annotations

from functools import cache

import numpy as np


@cache
def pair_index(L: int) -> np.ndarray:
    """``(L+1, 2, L+1)`` int64: flat position of (v, c, l) in a vector padded by one zero at ``(L+1)^2``."""
    index = np.full((L + 1, 2, L + 1), (L + 1) ** 2, dtype=np.int64)
    for l in range(L + 1):
        for v in range(l + 1):
            index[v, 0, l] = l * l + l + v
            if v:
                index[v, 1, l] = l * l + l - v
    index.setflags(write=False)
    return index


@cache
def flat_index(L: int) -> np.ndarray:
    """``((L+1)^2,)`` int64: position of each (l, m) in the flattened ``(L+1, 2, L+1)`` pair array."""
    index = pair_index(L).reshape(-1)
    inverse = np.empty((L + 1) ** 2, dtype=np.int64)
    for position, flat in enumerate(index):
        if flat < (L + 1) ** 2:
            inverse[flat] = position
    inverse.setflags(write=False)
    return inverse


def pair_table(rows: np.ndarray, L: int) -> np.ndarray:
    """Rearrange per-(l, m) rows ``((L+1)^2, ...)`` into ``(L+1, 2, L+1, ...)`` (zeros elsewhere)."""
    padded = np.concatenate([rows, np.zeros((1,) + rows.shape[1:], dtype=rows.dtype)])
    return padded[pair_index(L)]


def contract_components(x, matrix):
    """``y[n, k, c] = Σ_d matrix[d, k] x[n, d, c]``: a linear map on the component axis of
    channels-last ``x (N, D, C)`` → ``(N, K, C)``, for ``matrix (D, K)``; no copy of x (one GEMM
    when C = 1, one small GEMM per row otherwise)."""
    if x.shape[-1] == 1:
        return (x.reshape(x.shape[0], -1) @ matrix).unsqueeze(-1)
    return matrix.t().unsqueeze(0) @ x
