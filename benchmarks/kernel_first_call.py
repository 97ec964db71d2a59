"""Time to a kernel's first product in a new process: compiled afresh against loaded from disk.

Each of the five SpMM kernels (csr, bcsr, nm, gs, csp on a 512 x 512 weight at 90 %, batch 80 so
that both tile widths run) makes its first product in a new Python process, once with an empty
numba cache folder (everything compiled) and once with the folder the first run filled (the
compiled kernels loaded), the two alternated for ``--rounds`` rounds; medians.

    PYTHONPATH=src python benchmarks/kernel_first_call.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = """
import json, time, torch
from sparsegrain.kernels.base import native_kernels
from sparsegrain.kernels.build import kernel_for
from sparsegrain.patterns import pattern
w, out = torch.randn(512, 512), {}
for p in ("unstructured", "block:4x4", "nm:1:8", "gs:8:1", "csp:8"):
    spec = pattern(p)
    fmt, params = ([k for k in native_kernels(spec) if k[0] != "csr"] or [("csr", {})])[0]
    k = kernel_for(w * spec.mask(w, 0.9), fmt, **params)
    t = time.perf_counter()
    k.matmul(torch.randn(512, 80))
    out[fmt] = time.perf_counter() - t
print(json.dumps(out))
"""


def first_calls(cache_dir: str) -> dict[str, float]:
    """Seconds of each format's first product in a new process using ``cache_dir``."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    run = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    fresh: list[dict[str, float]] = []
    cached: list[dict[str, float]] = []
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory() as d:
            print(f"round {r + 1}/{args.rounds} (about {20 * (args.rounds - r)} s left)", flush=True)
            fresh.append(first_calls(d))
            cached.append(first_calls(d))
    print(f"{'format':8s} {'compiled s':>11s} {'from cache s':>13s} {'ratio':>7s}")
    for fmt in fresh[0]:
        a = statistics.median(f[fmt] for f in fresh)
        b = statistics.median(c[fmt] for c in cached)
        print(f"{fmt:8s} {a:11.2f} {b:13.3f} {a / b:6.0f}x")
    a = statistics.median(sum(f.values()) for f in fresh)
    b = statistics.median(sum(c.values()) for c in cached)
    print(f"{'all five':8s} {a:11.2f} {b:13.3f} {a / b:6.0f}x")


if __name__ == "__main__":
    main()
