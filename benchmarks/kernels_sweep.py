"""Sweep the CPU sparse kernels: patterns x sparsities x batch sizes on one weight shape.

Prints, per pattern and batch, the median kernel time, its ratio to dense torch and to torch's
CSR matmul, GFLOP/s, bandwidth as a fraction of a copy measured in the same run, and the crossover
sparsity from which the kernel beats dense. Optionally writes JSON and a PNG of speedup curves.

    PYTHONPATH=src python benchmarks/kernels_sweep.py --shape 4096x4096 --batch 1,64 \\
        --pattern unstructured,block:8x1,nm:2:4,gs:8:1,csp:8 --json results/kernels_sweep.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from sparsegrain.benchmarking.bench import bench, copy_bandwidth, crossover

SPARSITIES = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", default="4096x4096")
    ap.add_argument("--batch", default="1,64,256")
    ap.add_argument("--pattern", default="unstructured,block:8x1,block:4x4,nm:2:4,gs:8:1,csp:8")
    ap.add_argument("--sparsity", default=",".join(map(str, SPARSITIES)))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json", type=Path, help="write every measurement here")
    ap.add_argument("--plot", type=Path, help="write speedup-vs-sparsity curves (PNG) here")
    args = ap.parse_args()
    shape = tuple(int(v) for v in args.shape.lower().split("x"))
    batches = [int(b) for b in args.batch.split(",")]
    sparsities = [float(s) for s in args.sparsity.split(",")]
    patterns = args.pattern.split(",")
    console = Console()
    copy = copy_bandwidth()
    rows = []
    for spec in track([(p, s) for p in patterns for s in sparsities], description="sweeping"):
        rows += bench(shape, spec[0], spec[1], batches, args.reps, copy)
    table = Table(title=f"W @ X, W {args.shape} fp32; copy bandwidth {copy:.1f} GB/s (read+write)")
    for col in ("pattern", "sparsity", "batch", "kernel ms", "x dense", "x torch CSR", "GFLOP/s",
                "bw / copy"):
        table.add_column(col, justify="left" if col == "pattern" else "right")
    for r in rows:
        table.add_row(r.pattern, f"{r.sparsity:.2f}", str(r.batch), f"{r.kernel_ms:.3f}",
                      f"{r.speedup_vs_dense:.2f}", f"{r.speedup_vs_torch_csr:.2f}",
                      f"{r.gflops:.1f}", f"{r.bandwidth_fraction:.0%}")
    console.print(table)
    cross = Table(title="crossover sparsity (kernel faster than dense torch from here on)")
    cross.add_column("pattern")
    for b in batches:
        cross.add_column(f"batch {b}", justify="right")
    for p in dict.fromkeys(r.pattern for r in rows):
        cells = []
        for b in batches:
            mine = [r for r in rows if r.pattern == p and r.batch == b]
            c = crossover([r.sparsity for r in mine], [r.speedup_vs_dense for r in mine])
            cells.append("never" if c is None else f"{c:.2f}")
        cross.add_row(p, *cells)
    console.print(cross)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([r.to_dict() for r in rows], indent=1))
    if args.plot:
        plot(rows, batches, args.plot)


def plot(rows, batches, path: Path) -> None:
    """Speedup over dense torch vs sparsity, one panel per batch size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(batches), figsize=(5 * len(batches), 4), squeeze=False)
    for ax, b in zip(axes[0], batches):
        for p in dict.fromkeys(r.pattern for r in rows):
            mine = [r for r in rows if r.pattern == p and r.batch == b]
            ax.plot([r.sparsity for r in mine], [r.speedup_vs_dense for r in mine], "o-", label=p)
        ax.axhline(1.0, color="gray", lw=0.8)
        ax.set(title=f"batch {b}", xlabel="sparsity", ylabel="speedup over dense torch")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
