"""Encode and decode a 4096 x 4096 weight at 90% sparsity in every format; seconds per format.

Run: ``PYTHONPATH=src python benchmarks/formats_4096.py`` (``--size``, ``--repeat``). Each format
gets a mask it accepts at (about) 90% sparsity; the baseline is ``scipy.sparse.csr_matrix`` built
from the same dense matrix in the same run. Targets: encode < 1 s, k-means codebooks < 3 s.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import scipy.sparse as sp
import torch
from rich.console import Console
from rich.progress import track
from rich.table import Table

import sparsegrain as sg
from sparsegrain.formats import FORMATS

SPARSITY = 0.9
KMEANS = ("codebook", "eie")


def gs_mask(rows: int, cols: int, b: int, density: float, rng: np.random.Generator) -> np.ndarray:
    """A gs:B:1 mask: P packs per group of B rows; pack p gives row l bank (l + s_p) mod B, and
    each row keeps its most-needed count of random columns in every bank."""
    packs = int(round(density * cols))
    groups = rows // b
    shift = rng.integers(0, b, size=(groups, packs))
    bank = (np.arange(b)[None, :, None] + shift[:, None, :]) % b  # (group, lane, pack)
    need = np.zeros((groups, b, b), dtype=np.int64)
    np.add.at(need, (np.arange(groups)[:, None, None], np.arange(b)[None, :, None], bank), 1)
    need = need.reshape(rows, b)  # kept per (row, bank)
    rank = np.argsort(np.argsort(rng.random((rows, b, cols // b)), axis=2), axis=2)
    keep = rank < need[:, :, None]  # (row, bank, k): column k * b + bank
    return np.ascontiguousarray(keep.transpose(0, 2, 1).reshape(rows, cols))


def cases(n: int, seed: int = 0) -> dict[str, tuple[torch.Tensor, dict]]:
    """Weight and parameters per format, every mask at about 90% sparsity."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n, n, generator=g)
    unstructured = w * sg.pattern("unstructured").mask(w, SPARSITY)
    special = {
        "nm": (w * sg.pattern("nm:3:32").mask(w, SPARSITY), {"n": 3, "m": 32}),
        "bcsr": (w * sg.pattern("block:4x4").mask(w, SPARSITY), {}),
        "csp": (w * sg.pattern("csp:8").mask(w, SPARSITY), {}),
        "gs": (w * torch.from_numpy(gs_mask(n, n, 8, 1 - SPARSITY, np.random.default_rng(seed))), {}),
        "eie": (unstructured, {"pointer_bits": 32}),
        "rcsc": (unstructured, {"n_pe": 64}),
    }
    return {f: special.get(f, (unstructured, {})) for f in FORMATS}


def timed(fn, repeat: int) -> float:
    """Median wall time of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    console = Console(width=150)
    work = cases(args.size)
    base_w = work["csr"][0].numpy()
    baseline = timed(lambda: sp.csr_matrix(base_w), args.repeat)
    table = Table(title=f"{args.size} x {args.size}, 90% sparse: median of {args.repeat} runs")
    for col in ("format", "params", "sparsity", "encode s", "x scipy csr", "decode s", "bits/nnz",
                "ratio", "target"):
        table.add_column(col, justify="left" if col in ("format", "params", "target") else "right")
    for fmt in track(list(work), description="encoding", console=console):
        w, params = work[fmt]
        enc = sg.encode(w, fmt, **params)  # warm-up (numba compiles on first use)
        t_enc = timed(lambda w=w, fmt=fmt, params=params: sg.encode(w, fmt, **params), args.repeat)
        t_dec = timed(enc.decode, args.repeat)
        r = enc.storage()
        limit = 3.0 if fmt in KMEANS else 1.0
        table.add_row(
            fmt, ",".join(f"{k}={v}" for k, v in params.items()), f"{1 - r.nnz / w.numel():.3f}",
            f"{t_enc:.3f}", f"{t_enc / baseline:.1f}", f"{t_dec:.3f}", f"{r.bits_per_nnz:.2f}",
            f"{r.compression_ratio:.2f}", f"{'ok' if t_enc < limit else 'SLOW'} (< {limit:g} s)",
        )
    table.caption = f"baseline: scipy.sparse.csr_matrix(dense) = {baseline:.3f} s"
    console.print(table)


if __name__ == "__main__":
    main()
