"""Block CSR kernels: one index per kept R x C block; a block column reuses C input rows."""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np

from .base import SparseKernel, by_tile, index32, register, values32


@nb.njit(parallel=True, fastmath=True, cache=True)
def bcsr_spmv(indptr, indices, data, x, y):  # pragma: no cover - compiled
    """y[rows of block row b] += block @ x[cols of the block], over b's blocks."""
    nb_rows, rb, cb = indptr.shape[0] - 1, data.shape[1], data.shape[2]
    for b in nb.prange(nb_rows):
        for i in range(rb):
            r = b * rb + i
            if r < y.shape[0]:
                s = np.float32(0.0)
                for k in range(indptr[b], indptr[b + 1]):
                    c0 = indices[k] * cb
                    for j in range(min(cb, x.shape[0] - c0)):
                        s += data[k, i, j] * x[c0 + j]
                y[r] = s


def make_bcsr_spmm(tile: int):
    """Row i of block row b: y[:, r, t] = sum over blocks k, columns j of data[k, i, j] x[c, t]."""

    @nb.njit(parallel=True, fastmath=True, cache=True)
    def bcsr_spmm(indptr, indices, data, x, y):  # pragma: no cover - compiled
        tiles, rows, _ = y.shape
        rb, cb = data.shape[1], data.shape[2]
        for b in nb.prange(indptr.shape[0] - 1):
            acc = np.empty(tile, np.float32)
            for jt in range(tiles):
                for i in range(min(rb, rows - b * rb)):
                    for t in range(tile):
                        acc[t] = 0.0
                    for k in range(indptr[b], indptr[b + 1]):
                        c0 = indices[k] * cb
                        for j in range(min(cb, x.shape[1] - c0)):
                            v = data[k, i, j]
                            for t in range(tile):
                                acc[t] += v * x[jt, c0 + j, t]
                    for t in range(tile):
                        y[jt, b * rb + i, t] = acc[t]

    return bcsr_spmm


BCSR_SPMM = by_tile(make_bcsr_spmm)


@register("bcsr")
class BCSRKernel(SparseKernel):
    """Block CSR: ``indptr`` per block row, ``indices`` = block column, ``data`` (blocks, R, C);
    edge blocks may reach past the matrix (those slots are never read)."""

    summary = "one column index per kept R x C block (scipy's bsr layout)"

    def __init__(self, shape: tuple[int, int], indptr: Any, indices: Any, data: Any) -> None:
        super().__init__(shape)
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        self.indices = index32(indices)
        self.data = values32(data)
        rb, cb = self.data.shape[1:] if self.data.ndim == 3 else (0, 0)
        if (
            self.data.ndim != 3
            or len(self.indptr) != -(-self.shape[0] // rb) + 1
            or self.indptr[-1] != len(self.data)
            or len(self.indices) != len(self.data)
        ):
            raise ValueError(f"block CSR arrays do not describe a {self.shape} matrix")

    @classmethod
    def from_encoded(cls, enc: Any) -> "BCSRKernel":
        return cls(enc.matrix_shape, enc.indptr, enc.indices, enc.blocks)

    @property
    def nnz(self) -> int:
        return self.data.size

    @property
    def nbytes(self) -> int:
        return self.data.nbytes + self.indices.nbytes + self.indptr.nbytes

    def _spmv(self, x: np.ndarray, y: np.ndarray) -> None:
        bcsr_spmv(self.indptr, self.indices, self.data, x, y)

    def _spmm(self, x: np.ndarray, y: np.ndarray) -> None:
        BCSR_SPMM[x.shape[2]](self.indptr, self.indices, self.data, x, y)
