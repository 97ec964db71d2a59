"""Points per minute of a trade-off sweep: serial, local worker processes, and a local Ray cluster.

The same 16-point digits-cnn sweep (the dense baseline, then unstructured, block:4x4 and gs:8:1
at five sparsities, every format and the default accelerators, the measured CPU included) runs
into a fresh folder once per mode and round, the modes in a rotated order each round; the table
gives each mode's median wall time, points per minute and ratio to serial measured in the same
run. Every mode's stored numbers are checked against serial's (timings aside).

    PYTHONPATH=src python benchmarks/sweep_scaling.py [--rounds 3] [--workers 2] [--cpu-batch 0]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sparsegrain.experiments import SweepConfig, run_sweep
from sparsegrain.workloads.workload import load_workload

CONFIG = SweepConfig(patterns=("unstructured", "block:4x4", "gs:8:1"),
                     sparsities=(0.5, 0.7, 0.8, 0.9, 0.95))
TIMED = {"seconds", "prune_s", "dense_ms", "sparse_ms", "speedup", "identical", "layers", "noise",
         "load"}


def figures(out: Path) -> dict:
    """The stored rows' non-timing figures, by key."""
    db = sqlite3.connect(out / "sweep.sqlite")
    rows = db.execute("SELECT key, kind, result FROM results").fetchall()
    db.close()
    return {k: {f: v for f, v in json.loads(r).items()
                if f not in ("seconds", "prune_s") and not (kind == "cpu" and f in TIMED)}
            for k, kind, r in rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cpu-batch", type=int, default=1,
                    help="batch of the measured CPU latency; 0 leaves it out")
    args = ap.parse_args()
    config = replace(CONFIG, cpu_batch=args.cpu_batch)
    load_workload(config.model)  # the dense model is trained (and cached) before any timing
    modes = {"serial": {}, f"--workers {args.workers}": {"workers": args.workers},
             "--ray local": {"ray": "local"}}
    seconds: dict[str, list[float]] = {m: [] for m in modes}
    reference = None
    points = len(config.points())
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            names = list(modes)[r % len(modes):] + list(modes)[:r % len(modes)]
            for name in names:
                out = Path(tmp) / f"{r}-{name.strip('-').replace(' ', '_')}"
                console.print(f"round {r + 1}/{args.rounds}: {name}")
                t = time.perf_counter()
                run_sweep(config, out, console=console, **modes[name])
                seconds[name].append(time.perf_counter() - t)
                got = figures(out)
                reference = reference or got
                if got != reference:
                    raise SystemExit(f"{name} stored other numbers than the first run")
    base = statistics.median(seconds["serial"])
    table = Table(title=f"{points}-point digits-cnn sweep, cpu_batch {args.cpu_batch}, median of "
                        f"{args.rounds} round(s)")
    for col in ("mode", "wall s", "points / min", "x serial"):
        table.add_column(col, justify="left" if col == "mode" else "right")
    for name, ts in seconds.items():
        med = statistics.median(ts)
        table.add_row(name, f"{med:.1f}", f"{points * 60 / med:.1f}", f"{base / med:.2f}")
    Console().print(table)
    print("every mode stored the same numbers (timings aside)")


if __name__ == "__main__":
    main()
