"""Block CSR kernels: one index per kept R x C block; a block column reuses C input rows."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numba as nb
import numpy as np

from .base import SparseKernel, block_rows, register
from .intrinsics import (
    LANES,
    narrow,
    prefetch,
    run_value,
    value_at,
    vgather_fma,
    vvalues,
    wide_vectors,
)
from .layout import index32, kernel_value_bits, tile_job
from .steps import accumulator, lane_sum, row_fma, store_block, zero_block
from .tuning import PREFETCH, SPMV_BLOCK_ROWS


@nb.njit(parallel=True, fastmath=True, cache=True)
def bcsr_spmv(indptr, indices, data, lane_cols, x, y):  # pragma: no cover - compiled
    """Block row b: each block's values, 16 at a time in storage order, times the x entries of
    their columns (lane l of piece p reads x[c0 + lane_cols[16p + l]], c0 the block's first
    column) into one sum per stored position; each row's sums are added at the end. A block cut
    by the matrix's last column is read one value at a time."""
    wide_vectors()
    rows, cols = y.shape[0], x.shape[0]
    rb, cb = data.shape[1], data.shape[2]
    size, brows = rb * cb, indptr.shape[0] - 1
    for task in nb.prange((brows + SPMV_BLOCK_ROWS - 1) // SPMV_BLOCK_ROWS):
        acc = np.empty(lane_cols.shape[0], np.float32)
        for b in range(task * SPMV_BLOCK_ROWS, min(brows, (task + 1) * SPMV_BLOCK_ROWS)):
            acc[:] = 0.0
            for k in range(indptr[b], indptr[b + 1]):
                prefetch(data, k * size + PREFETCH)
                c0 = indices[k] * cb
                if c0 + cb <= cols:
                    for p in range(0, size, LANES):
                        vgather_fma(acc, p, data, None, k * size + p, size - p, x, c0,
                                    lane_cols, p)
                else:
                    for e in range(size):
                        if c0 + e % cb < cols:
                            acc[e] += value_at(data, k * size + e) * x[c0 + e % cb]
            for i in range(min(rb, rows - b * rb)):
                y[b * rb + i] = lane_sum(acc, i * cb, cb)


@nb.njit(inline="always")
def bcsr_block(w, b, acc, x, xt, y, t0, tile, h, bias):  # pragma: no cover - compiled
    """Block row b, rows i0..i0+h of it, batch tile t0: every block column j loads one x row and
    multiplies it by the h values of column j, so each x load feeds h vector FMAs. h (at most R)
    is a compile-time constant here."""
    indptr, indices, data = w
    rows = y.shape[0]
    rb, cb = data.shape[1], data.shape[2]
    run = accumulator(LANES)
    for i0 in range(0, min(rb, rows - b * rb), h):
        live = min(h, rb - i0, rows - b * rb - i0)
        # 16-bit values and codes: the pass's values of a block decoded as one run
        whole = narrow(data) and live * cb <= LANES
        zero_block(acc)
        for k in range(indptr[b], indptr[b + 1]):
            c0, at = indices[k] * cb, (k * rb + i0) * cb
            prefetch(data, at + PREFETCH)
            if whole:
                vvalues(run, data, at, live * cb)
            for j in range(min(cb, x.shape[1] - c0)):
                xo = (xt + c0 + j) * tile
                for i in range(h):
                    if i < live:
                        v = run_value(run, data, at, i * cb + j) if whole else \
                            value_at(data, at + i * cb + j)
                        row_fma(acc, i, v, x, xo, tile)
        store_block(acc, y, b * rb + i0, live, t0, tile, bias)


@cache
def bcsr_spmm(tile: int, rb: int) -> Callable[..., None]:
    """SpMM over block rows, one task each (see :attr:`SparseKernel.spmm`), compiled for blocks
    of ``rb`` rows as well: a pass then takes min(block rows, R) rows, none of them left empty
    (4 x 4 blocks at 8 columns: 4 rows a pass, not 16 of which 12 are tested and skipped)."""
    h = min(block_rows(tile), rb)
    size = -(-h * tile // LANES) * LANES  # whole vectors: zero_block clears 16 lanes at a time

    @nb.njit(parallel=True, fastmath=True, cache=True)
    def spmm(w, x, y, tb, bias):  # pragma: no cover - compiled
        n = w[0].shape[0] - 1
        for job in nb.prange(x.shape[0] * n):
            task, t0, xt, acc = tile_job(job, n, tb, tile, size, x)
            bcsr_block(w, task, acc, x, xt, y, t0, tile, h, bias)

    return spmm


@register("bcsr")
class BCSRKernel(SparseKernel):
    """Block CSR: ``indptr`` per block row, ``indices`` = block column, ``data`` (blocks, R, C);
    edge blocks may reach past the matrix (those slots are never read)."""

    summary = "one column index per kept R x C block (scipy's bsr layout)"
    auto_params = ({"block_rows": 8, "block_cols": 1}, {"block_rows": 1, "block_cols": 8},
                   {"block_rows": 4, "block_cols": 4})
    spmm = staticmethod(bcsr_spmm)

    def __init__(self, shape: tuple[int, int], indptr: Any, indices: Any, data: Any,
                 value_bits: int = 32) -> None:
        super().__init__(shape)
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        self.indices = index32(indices)
        self.data = self.store_values(data, value_bits)
        rb, cb = self.data.shape[1:] if self.data.ndim == 3 else (0, 0)
        if (
            self.data.ndim != 3
            or len(self.indptr) != -(-self.shape[0] // rb) + 1
            or self.indptr[-1] != len(self.data)
            or len(self.indices) != len(self.data)
        ):
            raise ValueError(f"block CSR arrays do not describe a {self.shape} matrix")
        # the column (from the block's first) of each stored position, in whole 16-lane pieces
        self.lane_cols = (np.arange(-(-rb * cb // LANES) * LANES) % cb).astype(np.int32)

    @classmethod
    def from_encoded(cls, enc: Any) -> BCSRKernel:
        return cls(enc.matrix_shape, enc.indptr, enc.indices, enc.blocks, kernel_value_bits(enc))

    @property
    def stored_entries(self) -> int:
        return self.data.size

    @property
    def nbytes(self) -> int:
        return self.data.nbytes + self.indices.nbytes + self.indptr.nbytes

    def spmm_params(self) -> tuple[int, ...]:
        return (self.data.shape[1],)

    def _spmv(self, x: np.ndarray, y: np.ndarray) -> None:
        bcsr_spmv(self.indptr, self.indices, self.data, self.lane_cols, x, y)

    def arrays(self) -> tuple:
        return (self.indptr, self.indices, self.data)

