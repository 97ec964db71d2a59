"""Seconds to build a mask for every weight of ResNet-50 (25.5 M weights), per pattern.

Run: ``PYTHONPATH=src python benchmarks/patterns_resnet50.py [--sparsity 0.9] [--repeat 3]``.
Weights are seeded normal values of the catalogued layer shapes. Each pattern is timed over the
whole model (best of ``--repeat``), after one warm-up call that JIT-compiles (or loads from
numba's cache) the compiled parts; that first call is reported on its own. Wall seconds and
the process's CPU seconds are both shown: on a shared machine the wall time includes waiting
for a core, CPU time does not (it adds up torch's threads). The ratio column is against
``unstructured`` timed in the same run. Layers a pattern cannot tile are skipped and counted.
"""

from __future__ import annotations

import argparse
import time

import torch
from rich.console import Console
from rich.progress import track
from rich.table import Table

import sparsegrain as sg
from sparsegrain.workloads.catalog import get_network

PATTERNS = [
    "unstructured", "vector", "kernel", "filter", "channel", "block:4x4", "nm:2:4", "bank:4",
    "pebalanced:64", "pebalanced:64:balance=layer", "csp:8", "gs:8:1", "gs:8:2", "gs:8:8",
    "gs:8:1:scatter=true", "gs:8:1:scatter=true:tile=64", "gs:8:1:block=1x2",
    "gs:8:1:calibrate=false", "gs:16:1",
]


def run(
    spec: str, weights: list[torch.Tensor], sparsity: float
) -> tuple[float, float, int, int, int]:
    """Wall and CPU seconds for the whole model, kept weights, weights covered, layers skipped."""
    p = sg.pattern(spec)
    tileable = []
    for w in weights:
        try:
            p.check_shape(w.shape)
            tileable.append(w)
        except ValueError:
            pass
    start, cpu = time.perf_counter(), time.process_time()
    kept = sum(int(p.mask(w, sparsity).sum()) for w in tileable)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return seconds, cpu, kept, sum(w.numel() for w in tileable), len(weights) - len(tileable)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sparsity", type=float, default=0.9)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    console = Console(width=130)
    layers = get_network("resnet50")
    weights = [layer.random_weight(seed=i) for i, layer in enumerate(layers)]
    console.print(f"ResNet-50: {len(layers)} layers, {sum(w.numel() for w in weights):,} weights, "
                  f"sparsity {args.sparsity}, torch threads {torch.get_num_threads()}")
    probe = torch.randn(128, 64)
    table = Table(title=f"mask time for all of ResNet-50 at {args.sparsity:.0%} sparsity")
    table.add_column("pattern", no_wrap=True)
    for col in ("first call on 128x64 (s)", "wall s", "CPU s", "wall vs unstructured",
                "achieved sparsity", "layers skipped"):
        table.add_column(col, justify="right")
    base = None
    for spec in track(PATTERNS, description="patterns", console=console):
        start = time.perf_counter()
        sg.pattern(spec).mask(probe, args.sparsity)
        first = time.perf_counter() - start
        runs = [run(spec, weights, args.sparsity) for _ in range(args.repeat)]
        seconds, cpu = min(r[0] for r in runs), min(r[1] for r in runs)
        _, _, kept, total, skipped = runs[0]
        base = base or seconds
        table.add_row(spec, f"{first:.3f}", f"{seconds:.2f}", f"{cpu:.2f}",
                      f"{seconds / base:.2f}x", f"{1 - kept / total:.4f}", str(skipped))
    console.print(table)


if __name__ == "__main__":
    main()
