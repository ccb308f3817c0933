"""One way to time things: the median of repeated runs after a warm-up.

Contenders measured against each other run interleaved (a round of each, then again), in one
process on the same data, so a noisy neighbour slows all of them alike and their ratios hold.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


def _once(fn: Callable[[], object], min_time: float) -> float:
    loops, start = 0, time.perf_counter()
    while True:
        fn()
        loops += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / loops


def median_seconds(fn: Callable[[], object], repeat: int = 7, warmup: int = 1, min_time: float = 0.0) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs (each run loops until ``min_time``)."""
    for _ in range(warmup):
        fn()
    return statistics.median(_once(fn, min_time) for _ in range(max(repeat, 3)))


def interleaved(contenders: Mapping[str, Callable[[], object] | None], repeat: int = 5, warmup: int = 1,
                min_time: float = 0.0) -> dict[str, float | None]:
    """Median seconds of each contender, timed in rounds (one run of each per round, order rotating).

    A contender given as None (a peer that is not installed) stays None: reported as skipped.
    """
    live = {name: fn for name, fn in contenders.items() if fn is not None}
    for fn in live.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in live}
    names = list(live)
    for r in range(max(repeat, 3)):
        for name in names[r % len(names):] + names[:r % len(names)] if names else ():
            times[name].append(_once(live[name], min_time))
    return {name: statistics.median(times[name]) if name in live else None for name in contenders}


@dataclass
class Contender:
    """What is timed (``run()``), and how its result is read back for the cross-checks."""

    run: Callable[[], object]
    weights: Callable[[], dict[str, Any]]  # the parameters now, as float64 NumPy arrays
    reset: Callable[[], None] | None = None  # back to the starting weights

    def __call__(self) -> object:
        return self.run()
