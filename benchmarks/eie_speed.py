"""Speed of the cycle-exact EIE model: the fc8 data and a VGG-6-sized layer.

    PYTHONPATH=src python benchmarks/eie_speed.py [--repeats 5]

Targets (on a 2-core machine): fc8 under 1 s, VGG-6 (25088 x 4096, 4% weights, 18.3%
activations) under 5 s. Baselines measured in the same run: the plain-Python register-transfer
reference of the tests (fc8 only; it is far too slow for VGG-6) and torch's dense float32
matrix-vector product of the same layer. Encoding is timed apart (it belongs to the formats).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

import sparsegrain
from sparsegrain.formats.eie import read_reference
from sparsegrain.hardware.eie import EIE, layer_from_encoded
from sparsegrain.studies.eie import layer_operands
from sparsegrain.workloads import get_layer

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SPARSEGRAIN_SHARED", ROOT.parent / "shared"))
FC8 = SHARED / "data" / "eie_alexnet_fc8"


def best_of(repeats: int, fn) -> float:
    """Fastest of ``repeats`` wall-clock timings of ``fn()``, seconds."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    enc = read_reference(FC8)
    act = np.fromfile(FC8 / "act.dat", dtype="<f4")
    sparsegrain.simulate("eie", enc, act)  # compile (numba caches to disk)
    fc8 = best_of(args.repeats, lambda: sparsegrain.simulate("eie", enc, act))
    sys.path.insert(0, str(ROOT / "tests" / "hardware"))
    from eie_rtl import run_rtl

    layer = layer_from_encoded(enc)
    rtl = best_of(1, lambda: run_rtl(layer, act, 8))

    t = time.perf_counter()
    w, vact, book = layer_operands(get_layer("eie:VGG-6"), seed=0)
    vgg = EIE(n_pe=64, codebook=book).encode(w)
    encode_s = time.perf_counter() - t
    vgg_s = best_of(args.repeats, lambda: sparsegrain.simulate("eie", vgg, vact))
    cycles = sparsegrain.simulate("eie", vgg, vact).cycles
    x = torch.from_numpy(vact)
    dense_s = best_of(args.repeats, lambda: w @ x)

    print("| layer | model (s) | target (s) | model / target | baseline | baseline (s) | baseline / model |")
    print("|---|---|---|---|---|---|---|")
    print(f"| fc8 (7,926 cycles) | {fc8:.4f} | 1 | {fc8:.3f} | Python RTL reference | {rtl:.2f} | {rtl / fc8:.0f}x |")
    print(f"| VGG-6 ({cycles:,.0f} cycles) | {vgg_s:.4f} | 5 | {vgg_s / 5:.3f} | torch dense matvec | {dense_s:.4f} | {dense_s / vgg_s:.2f}x |")
    print(f"VGG-6 preparation (random weights, mask, EIE encoding): {encode_s:.1f} s")


if __name__ == "__main__":
    main()
