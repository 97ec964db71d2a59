"""The copy of a Linear layer's input rows into batch tiles (``kernels.layout.tile_major``: a
transpose, 16 x 16 floats at a time in registers, that also finds NaN and inf), against a plain
copy of the same floats (no transpose: the floor), in one process, interleaved (medians of 25
rounds), at MiniLM's shapes for 32 sentences (1,312 rows of 384 and 1,536) and a 4096-wide
input of 64 rows. Load average printed.

    PYTHONPATH=src python benchmarks/tile_copy.py
"""

from __future__ import annotations

import os

import numpy as np

from sparsegrain.core.timing import interleaved_ms
from sparsegrain.kernels.layout import aligned, tile_major

SHAPES = ((1312, 384), (1312, 1536), (64, 4096))
TILE = 64


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'rows x cols':>12s} {'MB':>6s} {'tile copy ms':>12s} {'plain copy ms':>13s} "
          f"{'ratio':>6s} {'tile copy GB/s':>14s}")
    rng = np.random.default_rng(0)
    for n, cols in SHAPES:
        x = rng.standard_normal((n, cols), dtype=np.float32)
        width = n // TILE * TILE
        flat = aligned((width * cols,))
        ms = interleaved_ms({
            "tile": lambda x=x, width=width: tile_major(x.T, 0, width, TILE),
            "plain": lambda x=x, width=width, flat=flat: np.copyto(flat, x[:width].reshape(-1)),
        }, rounds=25)
        mb = width * cols * 4 / 1e6
        print(f"{n:>5d} x {cols:<5d} {mb:6.2f} {ms['tile']:12.3f} {ms['plain']:13.3f} "
              f"{ms['tile'] / ms['plain']:6.2f} {2 * mb / ms['tile']:14.1f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
