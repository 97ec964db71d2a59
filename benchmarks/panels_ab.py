"""Column panels against the row traversal they replace, and MKL's sparse BLAS, in one process.

For each pattern and batch the kernel's SpMM runs on its panel plan (``kernels/panels.py``) and
on the format's own row traversal, both into a fresh output from the same tile-major x, beside
MKL's product (``sparse-dot-mkl``, where installed) on the same weight; interleaved medians.
``--cold`` reads a 192 MB array between the calls, so that every engine finds its weights
out of cache, as in a model.

    PYTHONPATH=src python benchmarks/panels_ab.py --pattern unstructured --pattern nm:1:8 --pattern gs:8:1
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.sparse as sp

from sparsegrain.benchmarking.bench import format_for, masked_weight
from sparsegrain.benchmarking.peers import _mkl
from sparsegrain.core.timing import interleaved_ms
from sparsegrain.kernels.build import kernel_for
from sparsegrain.kernels.layout import aligned, tile_major


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pattern", action="append", default=None)
    ap.add_argument("--batch", default="8,64,256")
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--sparsity", type=float, default=0.9)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--cold", action="store_true", help="read 192 MB between the calls")
    args = ap.parse_args()
    mkl = _mkl()
    big = np.ones(48 * 2**20, np.float32) if args.cold else None
    rng = np.random.default_rng(0)
    print(f"{'pattern':14s} {'batch':>5s} {'rows ms':>8s} {'panels ms':>9s} {'MKL ms':>7s} "
          f"{'panels gain':>11s} {'vs MKL':>7s}")
    for spec in args.pattern or ["unstructured", "nm:1:8", "gs:8:1"]:
        w = masked_weight((args.size, args.size), spec, args.sparsity)
        fmt, params = format_for(spec)
        kernel = kernel_for(w, fmt, **params)
        csr = sp.csr_matrix(w.numpy())
        for batch in (int(b) for b in args.batch.split(",")):
            tile = 64 if batch % 64 == 0 else 8
            if kernel.panels(tile) is None:
                print(f"{spec:14s} {batch:5d}  no panels at {tile}-column tiles")
                continue
            xn = rng.standard_normal((args.size, batch)).astype(np.float32)
            xt = tile_major(xn, 0, batch - batch % tile, tile)
            rowwise = kernel.spmm(tile, *kernel.spmm_params())

            def rows(xt=xt, tile=tile, rowwise=rowwise, kernel=kernel):
                y = aligned((args.size, xt.shape[0] * tile), zero=True)
                rowwise(kernel.arrays(), xt, y, 0)
                return y

            def panels(xt=xt, tile=tile, kernel=kernel):
                y = aligned((args.size, xt.shape[0] * tile), zero=True)
                kernel._spmm(xt, y, 0)
                return y

            if not np.allclose(rows(), panels(), rtol=1e-4, atol=1e-3):
                raise RuntimeError(f"the panel plan gives another product on {spec}")
            fns = {"rows": rows, "panels": panels}
            if mkl is not None:
                fns["MKL"] = lambda xn=xn, csr=csr: mkl.dot_product_mkl(csr, xn)
            if big is not None:
                fns["flush"] = big.sum
            ms = interleaved_ms(fns, args.rounds)
            m = ms.get("MKL", float("nan"))
            print(f"{spec:14s} {batch:5d} {ms['rows']:8.3f} {ms['panels']:9.3f} {m:7.3f} "
                  f"{ms['rows'] / ms['panels']:10.2f}x {m / ms['panels']:6.2f}x")


if __name__ == "__main__":
    main()
