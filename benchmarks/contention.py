"""A sparsified layer on a machine other programs share: each engine's time with two busy
processes running beside it, over its own quiet time, in one run.

For each shape a 90 %-unstructured Linear is run dense by torch and sparsified (called as a
torch module), interleaved medians of 15 rounds, first on the quiet machine, then with two
processes spinning on the CPU (as many as this machine has cores). Load average printed.

    PYTHONPATH=src python benchmarks/contention.py [--busy 2] [--batch 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import torch
from torch import nn

from sparsegrain.core.timing import interleaved_ms
from sparsegrain.deploy import sparsify

SHAPES = ((384, 1536), (1536, 384), (4096, 4096))


def engines(rows: int, cols: int, batch: int, gen: torch.Generator) -> dict:
    """Dense torch and the sparsified layer on the same 90 %-pruned weight, as calls to time."""
    dense = nn.Linear(cols, rows)
    with torch.no_grad():
        dense.weight[torch.rand(dense.weight.shape, generator=gen) < 0.9] = 0
    model = nn.Sequential(nn.Linear(cols, rows))
    model[0].load_state_dict(dense.state_dict())
    sparsify(model, format="csr", keep_dense_if_slower=False, cache=False)
    x = torch.randn(batch, cols, generator=gen)
    return {"dense": lambda: dense(x), "sparse": lambda: model(x)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--busy", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--batch", type=int, default=1)
    args = ap.parse_args()
    gen = torch.Generator().manual_seed(0)
    calls = {shape: engines(*shape, args.batch, gen) for shape in SHAPES}
    print(f"torch threads {torch.get_num_threads()}, batch {args.batch}, {args.busy} busy "
          f"processes; load average {os.getloadavg()[0]:.2f}")
    with torch.no_grad():
        quiet = {s: interleaved_ms(fns) for s, fns in calls.items()}
        busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(args.busy)]
        try:
            time.sleep(1)
            loaded = {s: interleaved_ms(fns) for s, fns in calls.items()}
        finally:
            for p in busy:
                p.kill()
    print(f"{'out x in':>11s} {'dense ms':>9s} {'sparse ms':>9s} {'busy: dense':>11s} "
          f"{'sparse':>8s} {'dense slows':>11s} {'sparse slows':>12s} {'dense/sparse busy':>17s}")
    for (rows, cols), q in quiet.items():
        b = loaded[rows, cols]
        print(f"{rows:>5d}x{cols:<5d} {q['dense']:9.3f} {q['sparse']:9.3f} {b['dense']:11.3f} "
              f"{b['sparse']:8.3f} {b['dense'] / q['dense']:10.2f}x {b['sparse'] / q['sparse']:11.2f}x "
              f"{b['dense'] / b['sparse']:16.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
