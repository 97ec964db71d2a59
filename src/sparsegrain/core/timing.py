"""The one timing utility: wall times of repeated calls after a warm-up (compilation, caches)."""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable


def call_times(fn: Callable[[], Any], reps: int, warmup: int = 1) -> list[float]:
    """Seconds taken by each of ``reps`` calls of ``fn()``, after ``warmup`` untimed calls."""
    if reps < 1:
        raise ValueError(f"reps must be >= 1, got {reps}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def median_ms(fn: Callable[[], Any], reps: int = 5) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``reps`` calls after one warm-up."""
    return statistics.median(call_times(fn, reps)) * 1e3
