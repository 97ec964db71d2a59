"""The one timing utility: wall times of repeated calls after a warm-up (compilation, caches)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


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


def interleaved_ms(fns: dict[str, Callable[[], Any]], rounds: int = 15, warmup: int = 2,
                   min_sample_s: float = 1e-3) -> dict[str, float]:
    """Median milliseconds per call of each function (see :func:`interleaved_samples`)."""
    samples = interleaved_samples(fns, rounds, warmup, min_sample_s)
    return {name: statistics.median(ts) for name, ts in samples.items()}


def interleaved_samples(fns: dict[str, Callable[[], Any]], rounds: int = 15, warmup: int = 2,
                        min_sample_s: float = 1e-3) -> dict[str, list[float]]:
    """Milliseconds per call of each function in every round, timed in turn within every round
    (the order reversed every other round) so that a change of machine load falls on all of
    them alike. Each sample times as many calls as make it last ``min_sample_s`` (calibrated on
    the slowest function), so sub-millisecond calls are not lost in the timer's noise."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    names = list(fns)
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    one = max(min(call_times(fn, 3, warmup=0)) for fn in fns.values())
    number = max(1, int(min_sample_s / max(one, 1e-9)))
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            fn = fns[name]
            t = time.perf_counter()
            for _ in range(number):
                fn()
            times[name].append((time.perf_counter() - t) / number)
    return {name: [t * 1e3 for t in ts] for name, ts in times.items()}


def spread(samples: list[float]) -> float:
    """Half the interquartile range of ``samples`` over their median: their noise, relative."""
    if len(samples) < 4:
        return 0.0
    q1, _, q3 = statistics.quantiles(samples, n=4)
    return (q3 - q1) / 2 / max(statistics.median(samples), 1e-12)
