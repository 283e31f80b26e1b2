"""Wall-clock timing shared by the benchmark scripts."""

from __future__ import annotations

import time


def best_time(fn, repeats: int, warmup: bool = False) -> float:
    """Minimum wall time of ``fn()`` over ``repeats`` calls, seconds (after one untimed call if
    ``warmup``)."""
    if warmup:
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
