"""Time each accelerator model (scnn, sparten, csph, gs) on a full ResNet-50 at 90% sparsity.

Every conv and FC layer, seeded random weights pruned with real masks (unstructured for scnn,
sparten and gs; csp:32 for csph), seeded activations at 50% density, batch 1. Prints seconds per
model and the ratio to a dense torch forward of the same layers measured in the same run.
Target: under 60 s per model.  Run: PYTHONPATH=src python benchmarks/hw2_resnet50.py [models]
"""

from __future__ import annotations

import sys
import time

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table

from sparsegrain import pattern
from sparsegrain.hardware import simulate
from sparsegrain.hardware.layers import random_activations
from sparsegrain.workloads.catalog import get_network

MASKS = {"scnn": "unstructured", "sparten": "unstructured", "csph": "csp:32", "gs": "unstructured"}


def main(models: list[str]) -> None:
    console = Console(width=150)
    layers = get_network("resnet50")
    weights = [lay.random_weight(i) for i, lay in enumerate(layers)]
    acts = [random_activations((lay.in_features, *lay.input_size) if lay.kind == "conv" else (lay.in_features,),
                               0.5, seed=i) for i, lay in enumerate(layers)]
    t0 = time.perf_counter()
    for lay, w, a in zip(layers, weights, acts):
        x = torch.from_numpy(a)
        F.conv2d(x[None], w, stride=lay.stride, padding=lay.padding) if lay.kind == "conv" else F.linear(x, w)
    dense_s = time.perf_counter() - t0
    table = Table(title=f"ResNet-50 ({len(layers)} conv+FC layers), 90% sparsity, batch 1")
    for col in ("model", "mask", "simulate (s)", "vs torch dense forward", "cycles", "energy (mJ)", "< 60 s"):
        table.add_column(col, justify="left" if col in ("model", "mask") else "right")
    for model in models:
        masks = [pattern(MASKS[model]).mask(w, 0.9) for w in weights]
        simulate(model, weights[-1] * masks[-1], acts[-1], mask=masks[-1])  # compile outside the timing
        t0 = time.perf_counter()
        cycles = energy = 0.0
        for lay, w, m, a in zip(layers, weights, masks, acts):
            extra = {"stride": lay.stride, "padding": lay.padding} if lay.kind == "conv" else {}
            r = simulate(model, w * m, a, mask=m, **extra)
            cycles, energy = cycles + r.cycles, energy + r.energy_pj
        took = time.perf_counter() - t0
        table.add_row(model, MASKS[model], f"{took:.1f}", f"{took / dense_s:,.0f}x", f"{cycles:,.0f}",
                      f"{energy / 1e9:,.3f}", "yes" if took < 60 else "NO")
        console.print(f"{model}: {took:.1f} s")
    console.print(table)
    console.print(f"torch dense forward of the same layers: {dense_s:.2f} s")


if __name__ == "__main__":
    main(sys.argv[1:] or list(MASKS))
