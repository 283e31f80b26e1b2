"""Splits: seeded random splits by count or fraction, and index files (the official rMD17 splits)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .errors import DataFormatError


def split_sizes(n: int, sizes: Sequence[int | float | None]) -> list[int]:
    """Counts for ``sizes`` out of ``n`` items.

    ``sizes``: all counts (``(950, 50)``) or all fractions in (0, 1] (``(0.8, 0.1, 0.1)``); at
    most one ``None`` takes what is left. Fractions are rounded down, except that when they add
    up to 1 the last part takes the remainder, so every item is used.
    """
    given = [s for s in sizes if s is not None]
    if len(sizes) - len(given) > 1:
        raise ValueError("at most one size may be None (the rest)")
    if any(isinstance(s, bool) or not isinstance(s, (int, float, np.integer, np.floating)) for s in given):
        raise ValueError(f"sizes must be counts or fractions, got {list(sizes)}")
    if any(s < 0 for s in given):
        raise ValueError(f"sizes must not be negative, got {list(sizes)}")
    fractional = [isinstance(s, (float, np.floating)) for s in given]
    if any(fractional) and not all(fractional):
        raise ValueError(f"give all sizes as counts or all as fractions, got {list(sizes)}")
    if all(fractional) and given:
        total = sum(given)
        if total > 1 + 1e-9:
            raise ValueError(f"fractions add up to {total:.6g} > 1")
        counts = [None if s is None else math.floor(s * n + 1e-9) for s in sizes]
        if None not in sizes and abs(total - 1) <= 1e-9:
            counts[-1] = n - sum(counts[:-1])
    else:
        counts = [None if s is None else int(s) for s in sizes]
    used = sum(c for c in counts if c is not None)
    if used > n:
        raise ValueError(f"split sizes {list(sizes)} need {used} items but there are {n}")
    return [n - used if c is None else c for c in counts]


def random_split(n: int, sizes: Sequence[int | float | None], seed: int = 0) -> list[torch.Tensor]:
    """Disjoint random index sets ``(size_k,)`` long over ``range(n)``, reproducible by ``seed``."""
    counts = split_sizes(n, sizes)
    order = torch.as_tensor(np.random.default_rng(seed).permutation(n), dtype=torch.long)
    bounds = np.cumsum([0, *counts])
    return [order[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def split_dataset(dataset, sizes: Sequence[int | float | None], seed: int = 0) -> list:
    """``random_split`` applied to an ``AtomsDataset``: a list of views."""
    return [dataset.subset(idx) for idx in random_split(len(dataset), sizes, seed)]


def read_index_file(path: str | Path, n_frames: int | None = None) -> np.ndarray:
    """Frame indices, one integer per line (the rMD17 ``splits/index_*.csv`` files), ``(k,)`` int64.

    Blank lines are ignored. With ``n_frames`` each index must lie in ``[0, n_frames)``.
    Duplicates are an error: a split never repeats a frame.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    values, seen = [], {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line_no, line in enumerate(f, 1):
            text = line.strip().rstrip(",")
            if not text:
                continue
            try:
                value = float(text)
            except ValueError:
                raise DataFormatError(
                    path, f"expected one integer index, got {text[:40]!r}", where=f"line {line_no}"
                ) from None
            if not value.is_integer():
                raise DataFormatError(path, f"expected an integer index, got {text!r}", where=f"line {line_no}")
            index = int(value)
            if index < 0 or (n_frames is not None and index >= n_frames):
                bound = "a frame index" if index < 0 else f"{n_frames} frames"
                raise DataFormatError(path, f"index {index} out of range for {bound}", where=f"line {line_no}")
            if index in seen:
                raise DataFormatError(path, f"index {index} repeats line {seen[index]}", where=f"line {line_no}")
            seen[index] = line_no
            values.append(index)
    if not values:
        raise DataFormatError(path, "no indices (empty file)")
    return np.asarray(values, dtype=np.int64)
