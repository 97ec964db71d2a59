"""What a sparsified Linear layer costs beyond its kernel, per call, against dense ``nn.Linear``.

For each shape the same 90 %-unstructured weight is run, in one process and interleaved
(medians of 25 rounds, each sample as many calls as take 20 ms): the format's compiled vector product alone into a prepared output
(batch 1), the kernel's product with the bias and the input check (what the layer cannot
avoid), the sparsified layer called as a torch module in eager mode (what a user's model
pays), the custom operator ``sparsegrain::linear`` that ``torch.compile`` and ``torch.export``
record, and dense ``nn.Linear``. Overhead = layer - kernel, and layer - the product alone.
Load average printed.

    PYTHONPATH=src python benchmarks/layer_overhead.py [--batch 1] [--format csr]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch
from torch import nn

from sparsegrain.core.timing import interleaved_ms
from sparsegrain.deploy import sparsify

SHAPES = ((384, 384), (1536, 384), (384, 1536), (4096, 4096))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--format", default="csr")
    ap.add_argument("--sparsity", type=float, default=0.9)
    ap.add_argument("--rounds", type=int, default=25)
    ap.add_argument("--sample-ms", type=float, default=20.0,
                    help="each sample times as many calls as take this long")
    args = ap.parse_args()
    print(f"torch threads {torch.get_num_threads()}, batch {args.batch}, {args.format} at "
          f"{args.sparsity:.0%}; load average {os.getloadavg()[0]:.2f}")
    print(f"{'out x in':>11s} {'product us':>10s} {'kernel us':>9s} {'layer us':>9s} "
          f"{'overhead':>8s} {'over product':>12s} {'operator us':>11s} {'dense us':>8s} "
          f"{'dense/layer':>11s}")
    gen = torch.Generator().manual_seed(0)
    for rows, cols in SHAPES:
        us = time_shape(rows, cols, args, gen)
        product = us.get("product", float("nan"))
        print(f"{rows:>5d}x{cols:<5d} {product:10.1f} {us['kernel']:9.1f} {us['layer']:9.1f} "
              f"{us['layer'] - us['kernel']:8.1f} {us['layer'] - product:12.1f} "
              f"{us['operator']:11.1f} {us['dense']:8.1f} "
              f"{us['dense'] / us['layer']:10.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def time_shape(rows: int, cols: int, args: argparse.Namespace, gen: torch.Generator
               ) -> dict[str, float]:
    """Microseconds per call of the product alone (batch 1), the kernel, the sparsified layer,
    the operator and dense."""
    dense = nn.Linear(cols, rows)
    with torch.no_grad():
        dense.weight[torch.rand(dense.weight.shape, generator=gen) < args.sparsity] = 0
    model = nn.Sequential(nn.Linear(cols, rows))
    model[0].load_state_dict(dense.state_dict())
    sparsify(model, format=args.format, keep_dense_if_slower=False, cache=False)
    layer, x = model[0], torch.randn(args.batch, cols, generator=gen)
    row, kernel = x.numpy()[0], layer.kernel
    bias, out = layer.bias.numpy(), np.zeros(rows, np.float32)
    fns = {"product": lambda: kernel._spmv(row, out)} if args.batch == 1 else {}
    with torch.no_grad():
        ms = interleaved_ms({
            **fns,
            "kernel": (lambda: kernel.row_product(row, bias)) if args.batch == 1
            else (lambda: kernel.linear(x)),
            "layer": lambda: layer(x),
            "operator": lambda: torch.ops.sparsegrain.linear(x, layer.number),
            "dense": lambda: dense(x),
        }, rounds=args.rounds, min_sample_s=args.sample_ms / 1e3)
    return {k: v * 1e3 for k, v in ms.items()}


if __name__ == "__main__":
    main()
