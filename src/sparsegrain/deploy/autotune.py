"""``sparsify``'s timing decisions, cached on disk so that a layer is timed once per machine.

A decision is keyed by what its timings depend on: the mask (its hash), the weight's shape, the
candidate formats, the shape of the input it was timed on, the thread counts of torch and
numba, the CPU (a cache folder may be shared between machines) and the kernels' own code (a
changed kernel is timed again). It records the timings' noise and the load it was made under,
and is reused only where it holds (:meth:`Decision.holds`): its winner ahead of the runner-up
by more than twice the noise, made under no more load than now. The cache is one JSON file,
``$SPARSEGRAIN_CACHE/sparsify-decisions.json``, rewritten atomically; a damaged file is ignored
(and replaced on the next write).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numba
import torch
from llvmlite import binding as ll

from .. import kernels
from ..core.files import cache_dir, write_atomic

NAME = "sparsify-decisions.json"
#: how much busier (1-minute load average) the machine may have been when a decision was made
#: than it is now for the decision to stand: half a core of this machine's two
LOAD_SLACK = 0.5


def load_now() -> float:
    """The 1-minute load average (0 where the system gives none)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


@dataclass
class Decision:
    """One layer's timings (median ms by candidate), their noise (the largest half
    interquartile range over a median) and the load average they were taken under."""

    times: dict[str, float]
    noise: float
    load: float

    @property
    def margin(self) -> float:
        """How far the fastest candidate is ahead of the next, relative (inf with one)."""
        ranked = sorted(self.times.values())
        return ranked[1] / ranked[0] - 1 if len(ranked) > 1 else float("inf")

    def holds(self, load: float) -> bool:
        """Reusable now: a winner clear of the noise, timed under no more load than ``load``
        (plus :data:`LOAD_SLACK`)."""
        return self.margin > 2 * self.noise and self.load <= load + LOAD_SLACK


@cache
def kernel_code() -> str:
    """A hash of the kernels' source files and of the CPU they compile for."""
    h = hashlib.sha256(ll.get_host_cpu_name().encode())
    for path in sorted(Path(kernels.__file__).parent.rglob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()


def decision_key(mask: torch.Tensor, candidates: list[str], input_shape: tuple[int, ...]) -> str:
    """The key of one layer's timing decision on this machine's current thread counts."""
    h = hashlib.sha256(mask.to(torch.uint8).contiguous().numpy().tobytes())
    h.update(json.dumps([list(mask.shape), sorted(candidates), list(input_shape),
                         torch.get_num_threads(), numba.get_num_threads(),
                         kernel_code()]).encode())
    return h.hexdigest()


class DecisionCache:
    """The decisions of layers timed before, read from and written to ``folder``."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = cache_dir(folder)
        self.entries: dict[str, Decision] = {}
        self.changed = False
        try:
            data = json.loads((self.folder / NAME).read_text())
            if isinstance(data, dict):
                self.entries = {k: Decision(**v) for k, v in data.items() if _decision(v)}
        except (OSError, ValueError):
            pass  # missing or damaged: start empty

    def get(self, key: str) -> Decision | None:
        return self.entries.get(key)

    def put(self, key: str, decision: Decision) -> None:
        self.entries[key] = decision
        self.changed = True

    def save(self) -> None:
        """Write the cache back if anything was added."""
        if self.changed:
            write_atomic(self.folder, NAME, json.dumps({k: asdict(d)
                                                        for k, d in self.entries.items()}))
            self.changed = False


def _decision(v: Any) -> bool:
    """Is ``v`` a stored decision (entries of an older layout, timings alone, are not)?"""
    return (isinstance(v, dict) and set(v) == {"times", "noise", "load"}
            and isinstance(v["times"], dict) and "dense" in v["times"]
            and all(isinstance(t, (int, float)) and t > 0 for t in v["times"].values())
            and all(isinstance(v[k], (int, float)) for k in ("noise", "load")))
