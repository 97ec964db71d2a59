"""Pareto fronts of trade-off points: no other point is at least as good on both axes and better
on one."""

from __future__ import annotations

from collections.abc import Sequence


def pareto_front(xs: Sequence[float], ys: Sequence[float]) -> list[int]:
    """Indices of the points not dominated when both ``x`` and ``y`` are to be maximised,
    sorted by decreasing ``x``. Ties (equal x and y) are all kept."""
    order = sorted(range(len(xs)), key=lambda i: (-xs[i], -ys[i]))
    front: list[int] = []
    best_y = -float("inf")
    for i in order:
        if ys[i] > best_y or (front and xs[i] == xs[front[-1]] and ys[i] == ys[front[-1]]):
            front.append(i)
            best_y = max(best_y, ys[i])
    return front
