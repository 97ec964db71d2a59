"""CSR kernels: one output row at a time, a tile of the batch accumulated in registers."""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np

from .base import SparseKernel, by_tile, index32, register, values32

#: output rows handled by one parallel task
ROWS_PER_TASK = 64


@nb.njit(parallel=True, fastmath=True, cache=True)
def csr_spmv(indptr, indices, data, x, y):  # pragma: no cover - compiled
    """y[r] = sum_k data[k] * x[indices[k]] over row r's entries."""
    for r in nb.prange(y.shape[0]):
        s = np.float32(0.0)
        for k in range(indptr[r], indptr[r + 1]):
            s += data[k] * x[indices[k]]
        y[r] = s


def make_csr_spmm(tile: int):
    """y[j, r, t] = sum_k data[k] * x[j, indices[k], t], the tile of t held in registers."""

    @nb.njit(parallel=True, fastmath=True, cache=True)
    def csr_spmm(indptr, indices, data, x, y):  # pragma: no cover - compiled
        tiles, rows, _ = y.shape
        for task in nb.prange((rows + ROWS_PER_TASK - 1) // ROWS_PER_TASK):
            acc = np.empty(tile, np.float32)
            for j in range(tiles):
                for r in range(task * ROWS_PER_TASK, min(rows, (task + 1) * ROWS_PER_TASK)):
                    for t in range(tile):
                        acc[t] = 0.0
                    for k in range(indptr[r], indptr[r + 1]):
                        v = data[k]
                        c = indices[k]
                        for t in range(tile):
                            acc[t] += v * x[j, c, t]
                    for t in range(tile):
                        y[j, r, t] = acc[t]

    return csr_spmm


CSR_SPMM = by_tile(make_csr_spmm)


@register("csr")
class CSRKernel(SparseKernel):
    """Compressed sparse row: ``indptr`` (rows + 1), ``indices`` and ``data`` per kept weight."""

    summary = "row pointers + a column index per kept weight (scipy's layout)"

    def __init__(self, shape: tuple[int, int], indptr: Any, indices: Any, data: Any) -> None:
        super().__init__(shape)
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        self.indices = index32(indices)
        self.data = values32(data)
        if len(self.indptr) != self.shape[0] + 1 or self.indptr[-1] != len(self.data):
            raise ValueError(f"CSR arrays do not describe a {self.shape} matrix")

    @classmethod
    def from_encoded(cls, enc: Any) -> "CSRKernel":
        return cls(enc.matrix_shape, enc.indptr, enc.indices, enc.data)

    @property
    def nnz(self) -> int:
        return len(self.data)

    @property
    def nbytes(self) -> int:
        return self.data.nbytes + self.indices.nbytes + self.indptr.nbytes

    def _spmv(self, x: np.ndarray, y: np.ndarray) -> None:
        csr_spmv(self.indptr, self.indices, self.data, x, y)

    def _spmm(self, x: np.ndarray, y: np.ndarray) -> None:
        CSR_SPMM[x.shape[2]](self.indptr, self.indices, self.data, x, y)
