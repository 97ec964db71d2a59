"""Where a sparsified network's forward spends its time: the sparse layers (of them, the copies
of Linear inputs into batch tiles and the kernels' products) and everything else torch runs,
beside the same network dense in the same run.

The network (``end_to_end.py``'s: minilm, ocr-crnn or craft) is pruned one-shot by magnitude,
sparsified on its real inputs, then called ``--calls`` times a round for ``--rounds`` rounds,
dense and sparsified in turn; each step's time is summed inside every sparsified forward by
wrapping the functions that run it (medians over rounds, milliseconds per forward; load average
printed).

    HF_HUB_OFFLINE=1 PYTHONPATH=src python benchmarks/forward_breakdown.py \\
        [--model minilm] [--pattern unstructured] [--sparsity 0.9] [--batch 32]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import torch
from end_to_end import NETWORKS  # the sibling script

import sparsegrain.kernels.base as base
from sparsegrain.deploy import sparsify
from sparsegrain.deploy.sparsify import KernelLayer

STEPS = {
    "sparse layers": (KernelLayer, "__call__"),
    "  Linear input tile copies": (base, "tile_major"),
    "  kernel products (batch tiles)": (base.SparseKernel, "_spmm"),
}


def timed(spent: dict[str, float], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` adding its wall time to ``spent[name]`` (outermost calls only)."""
    depth = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        depth[0] += 1
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            depth[0] -= 1
            if depth[0] == 0:
                spent[name] += time.perf_counter() - start
    return wrapper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="minilm", choices=list(NETWORKS))
    ap.add_argument("--pattern", default="unstructured")
    ap.add_argument("--sparsity", type=float, default=0.9)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--calls", type=int, default=5)
    args = ap.parse_args()
    net = NETWORKS[args.model]()
    feed = net.feed(args.batch)
    pruned = copy.deepcopy(net.model)
    net.prune(pruned, args.pattern, args.sparsity)
    sparse = copy.deepcopy(pruned)
    sparsify(sparse, inputs=feed)
    spent: dict[str, float] = defaultdict(float)
    for name, (owner, attr) in STEPS.items():
        setattr(owner, attr, timed(spent, name, getattr(owner, attr)))
    print(f"{args.model}, {args.pattern} at {args.sparsity:.0%}, batch {args.batch}, torch "
          f"threads {torch.get_num_threads()}; load average {os.getloadavg()[0]:.2f}")
    rows: dict[str, list[float]] = defaultdict(list)
    with torch.no_grad():
        sparse(*feed), net.model(*feed)
        for _ in range(args.rounds):
            for label, model in (("dense forward", net.model), ("sparsified forward", sparse)):
                spent.clear()
                start = time.perf_counter()
                for _ in range(args.calls):
                    model(*feed)
                rows[label].append((time.perf_counter() - start) / args.calls * 1e3)
            for name in STEPS:
                rows[name].append(spent[name] / args.calls * 1e3)
            rows["everything else"].append(rows["sparsified forward"][-1]
                                           - rows["sparse layers"][-1])
    for label, ms in rows.items():
        print(f"{label:34s} {statistics.median(ms):9.2f} ms  (range {min(ms):.2f}-{max(ms):.2f})")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
