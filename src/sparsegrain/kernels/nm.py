"""N:M kernels: every group of M inputs of a row holds N values and N in-group positions."""

from __future__ import annotations

from functools import cache
from typing import Any, Callable

import numba as nb
import numpy as np

from .base import SparseKernel, block_height, block_rows, register, tile_job, values32
from .simd import (LANES, accumulator, fold_rows, lane_sum, store_block, vfma, vgather_fma,
                   wide_vectors, zero_block)

#: output rows handled by one parallel task
ROWS_PER_TASK = 64


@nb.njit(parallel=True, fastmath=True, cache=True)
def nm_spmv(values, positions, m, shift, x, y):  # pragma: no cover - compiled
    """y[r] = sum over groups g, slots s of values[r, g, s] * x[g * m + positions[r, g, s]]; with
    N = 2**shift (shift -1 otherwise), 16 entries per gather, each column computed from its
    entry's place in the row."""
    wide_vectors()
    groups, n = values.shape[1], values.shape[2]
    length = groups * n
    for r in nb.prange(values.shape[0]):
        if shift >= 0:
            acc = accumulator(LANES)
            zero_block(acc)
            for j in range(0, length, LANES):
                vgather_fma(acc, 0, values, positions, r * length + j, length - j, x, j, shift, m)
            y[r] = lane_sum(acc, 0, LANES)
        else:
            s = np.float32(0.0)
            for g in range(groups):
                for k in range(n):
                    s += values[r, g, k] * x[g * m + positions[r, g, k]]
            y[r] = s


@nb.njit(inline="always")
def nm_block(w, task, acc, x, xt, y, t0, tile):  # pragma: no cover - compiled
    """Row r, batch tile t0: group g + i adds its N values times the x rows they name into
    partial-sum row i, h groups at a time (h independent FMA chains); folded at the end."""
    values, positions, m = w
    h = block_height(tile)
    groups, per = values.shape[1], values.shape[2]
    for r in range(task * ROWS_PER_TASK, min(y.shape[0], (task + 1) * ROWS_PER_TASK)):
        zero_block(acc)
        for g in range(0, groups, h):
            for k in range(per):
                for i in range(h):
                    if g + i < groups:
                        xo = (xt + (g + i) * m + np.int64(positions[r, g + i, k])) * tile
                        for t in range(0, tile, LANES):
                            vfma(acc, i * tile + t, values[r, g + i, k], x, xo + t, tile)
        fold_rows(acc, tile)
        store_block(acc, y, r, 1, t0, tile)


@cache
def nm_spmm(tile: int) -> Callable[..., None]:
    """SpMM over tasks of ``ROWS_PER_TASK`` rows (see :attr:`SparseKernel.spmm`)."""
    size = block_rows(tile) * tile

    @nb.njit(parallel=True, fastmath=True, cache=True)
    def spmm(w, x, y, tb):  # pragma: no cover - compiled
        n = (y.shape[0] + ROWS_PER_TASK - 1) // ROWS_PER_TASK
        for job in nb.prange(x.shape[0] * n):
            task, t0, xt, acc = tile_job(job, n, tb, tile, size, x)
            nm_block(w, task, acc, x, xt, y, t0, tile)

    return spmm


@register("nm")
class NMKernel(SparseKernel):
    """N:M: ``values`` and ``positions`` (0..M-1), both (rows, cols / M, N); unused slots hold 0."""

    summary = "N values + N in-group positions per M inputs; no pointers"
    auto_params = ({"n": 2, "m": 4}, {"n": 1, "m": 4}, {"n": 2, "m": 8})
    spmm = staticmethod(nm_spmm)

    def __init__(self, shape: tuple[int, int], values: Any, positions: Any, m: int) -> None:
        super().__init__(shape)
        self.values = values32(values)
        self.positions = np.ascontiguousarray(positions, dtype=np.uint8)
        self.m = int(m)
        rows, cols = self.shape
        if (
            self.values.ndim != 3
            or self.values.shape != self.positions.shape
            or self.values.shape[:2] != (rows, cols // self.m)
            or cols % self.m
            or (self.positions.size and int(self.positions.max()) >= self.m)
        ):
            raise ValueError(f"N:M arrays do not describe a {self.shape} matrix with M = {m}")

    @classmethod
    def from_encoded(cls, enc: Any) -> "NMKernel":
        rows, cols = enc.matrix_shape
        shape = (rows, cols // enc.m, enc.n)
        return cls(enc.matrix_shape, enc.values.reshape(shape), enc.indices.reshape(shape), enc.m)

    @property
    def stored_entries(self) -> int:
        return self.values.size

    @property
    def nbytes(self) -> int:
        return self.values.nbytes + self.positions.nbytes

    def _spmv(self, x: np.ndarray, y: np.ndarray) -> None:
        n = self.values.shape[2]
        nm_spmv(self.values, self.positions, self.m, n.bit_length() - 1 if n & (n - 1) == 0 else -1,
                x, y)

    def arrays(self) -> tuple:
        return (self.values, self.positions, self.m)

