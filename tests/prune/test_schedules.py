"""Each schedule's sparsity curve and update steps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sparsegrain.prune import Gradual, Iterative, OneShot, schedule


def test_oneshot_is_a_step_at_its_update() -> None:
    s = OneShot(at=5)
    assert [s.sparsity(t, 0.9) for t in (0, 4, 5, 50)] == [0.0, 0.0, 0.9, 0.9]
    assert [t for t in range(20) if s.updates_at(t)] == [5]


def test_gradual_follows_the_cubic_of_zhu_and_gupta() -> None:
    s = Gradual(start=10, end=110, every=25)
    final = 0.8
    for t in range(0, 130):
        frac = min(max((t - 10) / 100, 0.0), 1.0)
        want = 0.0 if t < 10 else final * (1 - (1 - frac) ** 3)
        assert s.sparsity(t, final) == pytest.approx(want)
    # the cubic prunes fast early, slowly late: half way it is at 7/8 of the target
    assert s.sparsity(60, final) == pytest.approx(0.875 * final)
    assert [t for t in range(200) if s.updates_at(t)] == [10, 35, 60, 85, 110]
    assert s.last_step == 110


@given(
    start=st.integers(0, 50), length=st.integers(1, 200), every=st.integers(1, 40),
    initial=st.floats(0, 0.5), final=st.floats(0, 0.99),
)
def test_gradual_is_monotone_and_reaches_the_target(start, length, every, initial, final) -> None:
    s = Gradual(start, start + length, every, initial)
    curve = [s.sparsity(t, final) for t in range(start, start + length + 5)]
    assert all(b >= a - 1e-12 for a, b in zip(curve, curve[1:]))
    assert curve[-1] == pytest.approx(final)
    assert s.updates_at(start + length)


def test_iterative_prunes_the_same_fraction_of_the_rest_each_round() -> None:
    s = Iterative(rounds=3, round_steps=10, start=0)
    levels = [s.sparsity(t, 0.875) for t in (0, 9, 10, 20, 29, 100)]
    assert levels == pytest.approx([0.5, 0.5, 0.75, 0.875, 0.875, 0.875])
    assert [t for t in range(100) if s.updates_at(t)] == [0, 10, 20]
    assert s.last_step == 20


def test_schedule_from_name_and_dict() -> None:
    assert schedule("oneshot") == OneShot()
    assert schedule({"kind": "iterative", "rounds": 2}) == Iterative(rounds=2)
    assert Gradual(0, 10, 2).to_dict() == {"kind": "gradual", "start": 0, "end": 10, "every": 2, "initial": 0.0}
