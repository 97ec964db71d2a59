"""Progress of long loops deep inside a stage (training a dense model, fine-tuning a point),
told to whoever listens: the sweep shows it on its bar and in its log.

A loop asks :func:`steps` for a ticker and calls it after each step; with nobody listening the
ticker does nothing. A listener, installed with :func:`listening`, hears at most one message a
second (and the last step), each with the time left estimated from the steps so far.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Listener = Callable[[str], None]
_LISTENER: ContextVar[Listener | None] = ContextVar("sparsegrain_progress", default=None)
#: seconds between two messages of one loop
EVERY_S = 1.0


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Within the block, loops' progress goes to ``listener(text)``."""
    token = _LISTENER.set(listener)
    try:
        yield
    finally:
        _LISTENER.reset(token)


def _left(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def steps(what: str, total: int) -> Callable[[int], None]:
    """A ticker for a loop of ``total`` steps: call it with the number of steps done."""
    listener = _LISTENER.get()
    if listener is None or total <= 0:
        return lambda done: None
    start = time.perf_counter()
    last = [start]

    def tick(done: int) -> None:
        now = time.perf_counter()
        if now - last[0] < EVERY_S and done < total:
            return
        last[0] = now
        rate = (now - start) / max(done, 1)
        listener(f"{what}: step {done}/{total}, about {_left(rate * (total - done))} left")

    return tick
