"""``sparsify``'s timing decisions, cached on disk so that a layer is timed once per machine.

A decision is keyed by what its timings depend on: the mask (its hash), the weight's shape, the
candidate formats, the shape of the input it was timed on, the thread counts of torch and
numba, the CPU (a cache folder may be shared between machines) and the kernels' own code (a
changed kernel is timed again). The cache is one JSON file, ``$SPARSEGRAIN_CACHE/sparsify-decisions.json``, rewritten
atomically; a damaged file is ignored (and replaced on the next write).
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import numba
import torch
from llvmlite import binding as ll

from ..core.files import cache_dir, write_atomic

NAME = "sparsify-decisions.json"


@cache
def kernel_code() -> str:
    """A hash of the kernels' source files and of the CPU they compile for."""
    h = hashlib.sha256(ll.get_host_cpu_name().encode())
    for path in sorted(Path(__file__).parent.rglob("*.py")):
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
    """The timings (ms by candidate) of layers timed before, read from and written to ``folder``."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = cache_dir(folder)
        self.entries: dict[str, dict[str, float]] = {}
        self.changed = False
        try:
            data = json.loads((self.folder / NAME).read_text())
            if isinstance(data, dict):
                self.entries = {k: v for k, v in data.items() if _timings(v)}
        except (OSError, ValueError):
            pass  # missing or damaged: start empty

    def get(self, key: str) -> dict[str, float] | None:
        return self.entries.get(key)

    def put(self, key: str, times: dict[str, float]) -> None:
        self.entries[key] = dict(times)
        self.changed = True

    def save(self) -> None:
        """Write the cache back if anything was added."""
        if self.changed:
            write_atomic(self.folder, NAME, json.dumps(self.entries))
            self.changed = False


def _timings(v: Any) -> bool:
    return isinstance(v, dict) and "dense" in v and all(
        isinstance(t, (int, float)) and t > 0 for t in v.values())
