"""Progress of long loops: nothing happens with nobody listening; a listener hears at most one
message a period, the last step always, each with the time left."""

from __future__ import annotations

import pytest

from sparsegrain.core import progress


def test_a_loop_with_nobody_listening_says_nothing() -> None:
    tick = progress.steps("training", 10)
    assert tick(1) is None  # a no-op, and no listener was left behind by another test


def test_a_listener_hears_the_last_step_and_at_most_one_message_a_period(
        monkeypatch: pytest.MonkeyPatch) -> None:
    heard: list[str] = []
    clock = iter([0.0, 0.1, 0.2, 1.5, 1.6, 1.7])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    with progress.listening(heard.append):
        tick = progress.steps("fine-tuning", 5)  # starts at 0.0
        for done in range(1, 6):  # at 0.1, 0.2, 1.5, 1.6, 1.7
            tick(done)
    assert heard == ["fine-tuning: step 3/5, about 1 s left",
                     "fine-tuning: step 5/5, about 0 s left"]
    assert progress.steps("after", 3)(1) is None and len(heard) == 2  # the listener is gone


def test_long_waits_read_in_minutes() -> None:
    assert progress._left(30) == "30 s" and progress._left(600) == "10 min"
