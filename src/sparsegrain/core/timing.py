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


def interleaved_ms(fns: dict[str, Callable[[], Any]], rounds: int = 15, warmup: int = 2
                   ) -> dict[str, float]:
    """Median milliseconds of each function, timed in turn within every round so that a
    change of machine load falls on all of them alike (after ``warmup`` untimed rounds)."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(warmup + rounds):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            if r >= warmup:
                times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) * 1e3 for name, ts in times.items()}
