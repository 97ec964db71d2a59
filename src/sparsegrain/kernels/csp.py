"""Cascading structured pruning (CSP) kernels: each input keeps a prefix of output chunks.

On W[i, o] (inputs x outputs, outputs cut into chunks of C), input i keeps its first L_i chunks.
Values come in chunk order: chunk j holds one cell of C values for every input with L_i > j,
inputs ascending. Output chunk j is then a dense (C x cells) block times the inputs it names,
so each input row loaded feeds C outputs and no column index is stored; the kernel derives the
input of every cell from the lengths once (Hanson et al., ISCA 2022).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numba as nb
import numpy as np

from .base import SparseKernel, block_rows, register
from .intrinsics import LANES, prefetch, vaxpy, vrun_fma, wide_vectors
from .layout import kernel_value_bits, spread, spread_stride, tile_job
from .steps import store_block, zero_block
from .tuning import PREFETCH


@nb.njit(parallel=True, fastmath=True, cache=True)
def csp_spmv(values, chunk_ptr, cell_input, x, y):  # pragma: no cover - compiled
    """Chunk j: every cell adds its C values times x[its input] into the chunk's C output sums,
    16 outputs per vector step (:func:`vaxpy`); chunks in :func:`spread` order."""
    wide_vectors()
    c, n = values.shape[1], chunk_ptr.shape[0] - 1
    stride = spread_stride(n)
    for job in nb.prange(n):
        j = spread(job, n, stride)
        sums = np.zeros(-(-c // LANES) * LANES, np.float32)
        for cell in range(chunk_ptr[j], chunk_ptr[j + 1]):
            prefetch(values, cell * c + PREFETCH)
            xi = x[cell_input[cell]]
            for q in range(0, c, LANES):
                vaxpy(sums, q, values, cell * c + q, c - q, xi)
        for q in range(min(c, y.shape[0] - j * c)):
            y[j * c + q] = sums[q]


@nb.njit(inline="always")
def csp_block(w, j, acc, x, xt, y, t0, tile, h, bias):  # pragma: no cover - compiled
    """Chunk j, outputs q0..q0+h of it, batch tile t0: every cell loads the x row of its input
    once and multiplies it by the cell's h values (decoded at once), so each x load feeds h
    vector FMAs."""
    values, chunk_ptr, cell_input = w
    rows = y.shape[0]
    c = values.shape[1]
    for q0 in range(0, min(c, rows - j * c), h):
        live = min(h, c - q0, rows - j * c - q0)
        zero_block(acc)
        for cell in range(chunk_ptr[j], chunk_ptr[j + 1]):
            vrun_fma(acc, values, cell * c + q0, live, x, (xt + np.int64(cell_input[cell])) * tile,
                     None, tile, h)
        store_block(acc, y, j * c + q0, live, t0, tile, bias)


@cache
def csp_spmm(tile: int, c: int) -> Callable[..., None]:
    """SpMM over chunks of C outputs, one task each (see :attr:`SparseKernel.spmm`), compiled
    for chunks of ``c`` outputs as well: a register block of min(block rows, C) outputs then
    holds no row that no chunk fills (C = 8 at 8 columns: 8 rows, not 16 half empty)."""
    h = min(block_rows(tile), c)
    size = -(-h * tile // LANES) * LANES  # whole vectors: zero_block clears 16 lanes at a time

    @nb.njit(parallel=True, fastmath=True, cache=True)
    def spmm(w, x, y, tb, bias):  # pragma: no cover - compiled
        n = w[1].shape[0] - 1
        stride = spread_stride(n)
        for job in nb.prange(x.shape[0] * n):
            task, t0, xt, acc = tile_job(job, n, tb, tile, size, x)
            csp_block(w, spread(task, n, stride), acc, x, xt, y, t0, tile, h, bias)

    return spmm


@register("csp")
class CSPKernel(SparseKernel):
    """CSP weave: ``lengths`` L_i per input and ``values`` (cells, C) in chunk order."""

    summary = "a chunk-prefix length per input; values only, no column indices"
    auto_params = ({"c": 16}, {"c": 8})
    spmm = staticmethod(csp_spmm)

    def __init__(self, shape: tuple[int, int], values: Any, lengths: Any,
                 value_bits: int = 32) -> None:
        super().__init__(shape)
        self.values = self.store_values(values, value_bits)
        self.lengths = np.ascontiguousarray(lengths, dtype=np.int32)
        rows, cols = self.shape
        c = self.values.shape[1] if self.values.ndim == 2 else 0
        chunks = -(-rows // c) if c else 0
        if (
            c == 0
            or len(self.lengths) != cols
            or (cols and (self.lengths.min() < 0 or self.lengths.max() > chunks))
            or self.lengths.astype(np.int64).sum() != len(self.values)
        ):
            raise ValueError(f"CSP arrays do not describe a {self.shape} matrix")
        held = np.arange(chunks)[:, None] < self.lengths[None, :]
        self.chunk_ptr = np.concatenate([[0], np.cumsum(held.sum(1))]).astype(np.int64)
        self.cell_input = np.nonzero(held)[1].astype(np.int32)

    @classmethod
    def from_encoded(cls, enc: Any) -> CSPKernel:
        return cls(enc.matrix_shape, enc.values, enc.lengths, kernel_value_bits(enc))

    @property
    def stored_entries(self) -> int:
        return self.values.size

    @property
    def nbytes(self) -> int:
        """Values, lengths and the derived input of every cell (one int32 per C values)."""
        return self.values.nbytes + self.lengths.nbytes + self.cell_input.nbytes

    def _spmv(self, x: np.ndarray, y: np.ndarray) -> None:
        csp_spmv(self.values, self.chunk_ptr, self.cell_input, x, y)

    def spmm_params(self) -> tuple[int, ...]:
        return (self.values.shape[1],)

    def arrays(self) -> tuple:
        return (self.values, self.chunk_ptr, self.cell_input)

