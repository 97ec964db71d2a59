"""CSR kernels: one output row at a time, a tile of the batch accumulated in registers."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numba as nb
import numpy as np

from .base import SparseKernel, block_height, block_rows, register
from .intrinsics import LANES, NO_OFFSETS, ld, prefetch, run_value, vgather_fma, wide_vectors
from .layout import column_index, float_values, kernel_value_bits, tile_job
from .steps import accumulator, fold_rows, lane_sum, row_entries, row_fma, store_block, zero_block
from .tuning import PREFETCH, ROWS_PER_TASK


@nb.njit(parallel=True, fastmath=True, cache=True)
def csr_spmv(indptr, indices, data, x, y):  # pragma: no cover - compiled
    """y[r] = sum_k data[k] * x[indices[k]] over row r's entries, 16 entries per gather."""
    wide_vectors()
    for r in nb.prange(y.shape[0]):
        acc = accumulator(LANES)
        zero_block(acc)
        end = indptr[r + 1]
        for k in range(indptr[r], end, LANES):
            prefetch(data, k + PREFETCH)
            prefetch(indices, k + PREFETCH)
            vgather_fma(acc, 0, data, indices, k, end - k, x, 0, NO_OFFSETS, 0)
        y[r] = lane_sum(acc, 0, LANES)


@nb.njit(inline="always")
def csr_block(w, task, acc, x, xt, y, t0, tile, bias):  # pragma: no cover - compiled
    """Row r, batch tile t0: entry k adds data[k] * x[indices[k], tile] into partial-sum row
    k mod h (:func:`row_entries`); the rows are folded at the end."""
    indptr, data = w[0], w[2]
    h = block_height(tile)
    run = accumulator(LANES)
    for r in range(task * ROWS_PER_TASK, min(y.shape[0], (task + 1) * ROWS_PER_TASK)):
        zero_block(acc)
        row_entries(acc, run, data, indptr[r], indptr[r + 1] - indptr[r], h, csr_entry, w, (),
                    x, xt, tile)
        fold_rows(acc, tile)
        store_block(acc, y, r, 1, t0, tile, bias)


@nb.njit(inline="always")
def csr_entry(acc, i, run, w, c, k, j, x, xt, tile):  # pragma: no cover - compiled
    """Partial-sum row i += entry k + j's value (j of the run decoded from k) * the x row of its
    column."""
    xo = (xt + np.int64(ld(w[1], k + j))) * tile
    row_fma(acc, i, run_value(run, w[2], k, j), x, xo, tile)


@cache
def csr_spmm(tile: int) -> Callable[..., None]:
    """SpMM over tasks of ``ROWS_PER_TASK`` rows (see :attr:`SparseKernel.spmm`)."""
    size = block_rows(tile) * tile

    @nb.njit(parallel=True, fastmath=True, cache=True)
    def spmm(w, x, y, tb, bias):  # pragma: no cover - compiled
        n = (y.shape[0] + ROWS_PER_TASK - 1) // ROWS_PER_TASK
        for job in nb.prange(x.shape[0] * n):
            task, t0, xt, acc = tile_job(job, n, tb, tile, size, x)
            csr_block(w, task, acc, x, xt, y, t0, tile, bias)

    return spmm


@register("csr")
class CSRKernel(SparseKernel):
    """Compressed sparse row: ``indptr`` (rows + 1), ``indices`` (16-bit up to 65,536 columns)
    and ``data`` per kept weight."""

    summary = "row pointers + a column index per kept weight (scipy's layout)"
    panel_tiles = (64, 16, 8)
    spmm = staticmethod(csr_spmm)

    def __init__(self, shape: tuple[int, int], indptr: Any, indices: Any, data: Any,
                 value_bits: int = 32) -> None:
        super().__init__(shape)
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        self.indices = column_index(indices, self.shape[1])
        self.data = self.store_values(data, value_bits)
        if len(self.indptr) != self.shape[0] + 1 or self.indptr[-1] != len(self.data):
            raise ValueError(f"CSR arrays do not describe a {self.shape} matrix")

    @classmethod
    def from_encoded(cls, enc: Any) -> CSRKernel:
        return cls(enc.matrix_shape, enc.indptr, enc.indices, enc.data, kernel_value_bits(enc))

    @property
    def stored_entries(self) -> int:
        return len(self.data)

    @property
    def nbytes(self) -> int:
        return self.data.nbytes + self.indices.nbytes + self.indptr.nbytes

    def _spmv(self, x: np.ndarray, y: np.ndarray) -> None:
        csr_spmv(self.indptr, self.indices, self.data, x, y)

    def nonzeros(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        return rows, self.indices, float_values(self.data)

    def arrays(self) -> tuple:
        return (self.indptr, self.indices, self.data)

