"""Cascading structured pruning (CSP) kernels: each input row keeps a prefix of output chunks.

The weight is held as W[i, o] (rows = inputs, columns = outputs in chunks of C); input row i keeps
its first L_i chunks, stored contiguously, so no index is read at all. Output chunk j sums over the
inputs with L_i > j: sorted by L descending, those are a prefix of the sorted inputs, and each
input row loaded once feeds C output rows (Hanson et al., ISCA 2022).
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np

from .base import SparseKernel, by_tile, register, values32


@nb.njit(parallel=True, fastmath=True, cache=True)
def csp_spmv(values, start, order, count, c, x, y):  # pragma: no cover - compiled
    """y[j*C + q] = sum over the first count[j] inputs i (by L) of values[start[i] + j*C + q] x[i]."""
    for j in nb.prange(count.shape[0]):
        for q in range(min(c, y.shape[0] - j * c)):
            s = np.float32(0.0)
            for n in range(count[j]):
                i = order[n]
                s += values[start[i] + j * c + q] * x[i]
            y[j * c + q] = s


def make_csp_spmm(tile: int):
    """Output row o = j*C + q: y[:, o, t] = sum over inputs i with L_i > j of v x[:, i, t]."""

    @nb.njit(parallel=True, fastmath=True, cache=True)
    def csp_spmm(values, start, order, count, c, x, y):  # pragma: no cover - compiled
        tiles, rows, _ = y.shape
        for j in nb.prange(count.shape[0]):
            acc = np.empty(tile, np.float32)
            for jt in range(tiles):
                for q in range(min(c, rows - j * c)):
                    for t in range(tile):
                        acc[t] = 0.0
                    for n in range(count[j]):
                        i = order[n]
                        v = values[start[i] + j * c + q]
                        for t in range(tile):
                            acc[t] += v * x[jt, i, t]
                    for t in range(tile):
                        y[jt, j * c + q, t] = acc[t]

    return csp_spmm


CSP_SPMM = by_tile(make_csp_spmm)


@register("csp")
class CSPKernel(SparseKernel):
    """CSP weave: ``lengths`` L_i (chunks kept per input row) and ``values`` row by row."""

    summary = "a chunk-prefix length per input row; values only, no column indices"

    def __init__(self, shape: tuple[int, int], values: Any, lengths: Any, chunk: int) -> None:
        super().__init__(shape)
        self.values = values32(values).reshape(-1)
        self.lengths = np.ascontiguousarray(lengths, dtype=np.int64)
        self.chunk = int(chunk)
        rows, cols = self.shape
        chunks = -(-rows // self.chunk)
        if (
            len(self.lengths) != cols
            or (cols and (self.lengths.min() < 0 or self.lengths.max() > chunks))
            or self.lengths.sum() * self.chunk != len(self.values)
        ):
            raise ValueError(f"CSP arrays do not describe a {self.shape} matrix in chunks of {chunk}")
        self.start = np.zeros(cols, dtype=np.int64)
        np.cumsum(self.lengths[:-1] * self.chunk, out=self.start[1:])
        self.order = np.argsort(-self.lengths, kind="stable").astype(np.int64)
        self.count = (self.lengths[None, :] > np.arange(chunks)[:, None]).sum(axis=1)

    @classmethod
    def from_encoded(cls, enc: Any) -> "CSPKernel":
        return cls(enc.matrix_shape, enc.values, enc.lengths, enc.chunk)

    @property
    def nnz(self) -> int:
        return len(self.values)

    @property
    def nbytes(self) -> int:
        return self.values.nbytes + self.lengths.nbytes

    def _spmv(self, x: np.ndarray, y: np.ndarray) -> None:
        csp_spmv(self.values, self.start, self.order, self.count, self.chunk, x, y)

    def _spmm(self, x: np.ndarray, y: np.ndarray) -> None:
        CSP_SPMM[x.shape[2]](self.values, self.start, self.order, self.count, self.chunk, x, y)
