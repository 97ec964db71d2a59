"""Pareto fronts equal a brute-force check of dominance."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sparsegrain.report import pareto_front


def dominated(i: int, xs: list[float], ys: list[float]) -> bool:
    return any(xs[j] >= xs[i] and ys[j] >= ys[i] and (xs[j] > xs[i] or ys[j] > ys[i])
               for j in range(len(xs)))


small = st.integers(0, 6).map(float)


@given(st.lists(st.tuples(small, small), max_size=25))
def test_front_is_exactly_the_non_dominated_points(pts: list[tuple[float, float]]) -> None:
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    front = pareto_front(xs, ys)
    assert sorted(front) == [i for i in range(len(pts)) if not dominated(i, xs, ys)]
    assert [xs[i] for i in front] == sorted((xs[i] for i in front), reverse=True)


def test_a_simple_front() -> None:
    # (compression, accuracy): the middle point is beaten on both axes by the first
    assert pareto_front([10.0, 5.0, 2.0, 4.0], [0.9, 0.8, 0.99, 0.95]) == [0, 3, 2]
