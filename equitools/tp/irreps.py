"""Irreps helpers for the tensor products: reading ``so3.Irreps`` with the argument named in
errors, and the channel layout.

The library's features are channels-last, ``(..., irreps.dim, C)`` with the irreps of one
channel (multiplicity 1). e3nn's flat layout of ``so3.Irreps`` (irreps concatenated, each block
``mul x (2l+1)`` stored multiplicity-major) is read for interop: blocks that share one
multiplicity C are gathered into the channels-last layout ``(..., Σ(2l+1), C)`` and back.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..so3.irreps import Irreps


def as_irreps(irreps, name: str) -> Irreps:
    """``irreps`` (``so3.Irreps``, a string such as "8x0e+8x1o", or e3nn's) as ``so3.Irreps``.

    Raises ``ValueError`` naming the argument if it cannot be read or holds no irrep.
    """
    try:
        out = Irreps(irreps)
    except ValueError as error:
        raise ValueError(f"{name}: cannot read irreps {irreps!r} ({error})") from None
    if out.dim == 0:
        raise ValueError(f"{name}: irreps {irreps!r} are empty")
    return out


def common_multiplicity(irreps: Irreps, name: str) -> int:
    """The multiplicity shared by all blocks of ``irreps``; ``ValueError`` if they differ."""
    muls = {mul for mul, _ in irreps}
    if len(muls) != 1:
        raise ValueError(
            f"{name} = {irreps} mixes multiplicities {sorted(muls)}; channel-wise products need one "
            "multiplicity per input (use channel_mode='outer' for e3nn's full 'uvuv' product)"
        )
    return muls.pop()


@cache
def _channel_permutation(irreps: Irreps) -> np.ndarray:
    mul = irreps[0].mul
    index = np.empty(irreps.dim, dtype=np.int64)
    offset, reduced_offset = 0, 0
    for _, ir in irreps:
        for u in range(mul):
            index[(reduced_offset + np.arange(ir.dim)) * mul + u] = offset + u * ir.dim + np.arange(ir.dim)
        offset += mul * ir.dim
        reduced_offset += ir.dim
    index.setflags(write=False)
    return index


def to_channel_layout(irreps: Irreps) -> np.ndarray:
    """Gather index: e3nn flat ``(..., dim)`` → flattened channels-last ``(..., Σ(2l+1), C)`` (one multiplicity C)."""
    return _channel_permutation(irreps)


def from_channel_layout(irreps: Irreps) -> np.ndarray:
    """Gather index: flattened channels-last ``(..., Σ(2l+1), C)`` → e3nn flat ``(..., dim)``."""
    return np.argsort(_channel_permutation(irreps))


def stripped(irreps: Irreps) -> Irreps:
    """The same irreps with every multiplicity set to 1."""
    return Irreps([(1, ir) for _, ir in irreps])
