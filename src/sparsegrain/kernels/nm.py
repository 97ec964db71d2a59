"""N:M kernels: every group of M inputs of a row holds N values and N in-group positions."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numba as nb
import numpy as np

from .base import SparseKernel, block_height, block_rows, register
from .intrinsics import LANES, ld, prefetch, run_value, vgather_fma, wide_vectors
from .layout import float_values, kernel_value_bits, tile_job
from .steps import accumulator, fold_rows, lane_sum, row_entries, row_fma, store_block, zero_block
from .tuning import PREFETCH, ROWS_PER_TASK


def group_offsets(n: int, m: int) -> np.ndarray:
    """(N, 16) int32: row p holds ((p + l) // N) * M for lanes l, the first column of the group of
    each of 16 entries that start p entries into a group; a run of 16 entries from a row's entry
    j then has its group starts at (j // N) * M + row j mod N, whatever N is."""
    lanes = np.arange(n)[:, None] + np.arange(LANES)[None, :]
    return np.ascontiguousarray(lanes // n * m, dtype=np.int32)


@nb.njit(parallel=True, fastmath=True, cache=True)
def nm_spmv(values, positions, m, offsets, x, y):  # pragma: no cover - compiled
    """y[r] = sum over groups g, slots s of values[r, g, s] * x[g * m + positions[r, g, s]],
    16 entries per gather, each column its group's start (from ``offsets``) plus its position."""
    wide_vectors()
    groups, n = values.shape[1], values.shape[2]
    length = groups * n
    whole, part = LANES // max(n, 1), LANES % max(n, 1)  # 16 entries: whole groups and a part
    for r in nb.prange(values.shape[0]):
        acc = accumulator(LANES)
        zero_block(acc)
        group, into = 0, 0  # the group of entry j and how far into it (no division per run)
        for j in range(0, length, LANES):
            prefetch(values, r * length + j + PREFETCH)
            prefetch(positions, r * length + j + PREFETCH)
            vgather_fma(acc, 0, values, positions, r * length + j, length - j, x, group * m,
                        offsets, into * LANES)
            group, into = group + whole, into + part
            if into >= n:
                group, into = group + 1, into - n
        y[r] = lane_sum(acc, 0, LANES)


@nb.njit(inline="always")
def nm_block(w, task, acc, x, xt, y, t0, tile, m, n, bias):  # pragma: no cover - compiled
    """Row r, batch tile t0: the row's stored entries in order, entry j adding its value times
    the x row it names into partial-sum row j mod h (:func:`row_entries`); folded at the end.
    M and N are compile-time constants here."""
    h = block_height(tile)
    groups = w[0].shape[1]
    run = accumulator(LANES)
    for r in range(task * ROWS_PER_TASK, min(y.shape[0], (task + 1) * ROWS_PER_TASK)):
        zero_block(acc)
        # entry f of the flat arrays lies in group f // N of all rows': xt is shifted back by
        # this row's r * groups groups so that the column is (f // N) * M + its position
        row_entries(acc, run, w[0], r * groups * n, groups * n, h, nm_entry, w, (m, n), x,
                    xt - r * groups * m, tile)
        fold_rows(acc, tile)
        store_block(acc, y, r, 1, t0, tile, bias)


@nb.njit(inline="always")
def nm_entry(acc, i, run, w, c, f, j, x, xt, tile):  # pragma: no cover - compiled
    """Partial-sum row i += flat entry f + j's value (j of the run decoded from f) times the x
    row of its column: its group's first column ((f + j) // N * M, constants folded) plus its
    stored position."""
    m, n = c
    xo = (xt + (f + j) // n * m + np.int64(ld(w[1], f + j))) * tile
    row_fma(acc, i, run_value(run, w[0], f, j), x, xo, tile)


@cache
def nm_spmm(tile: int, m: int, per: int) -> Callable[..., None]:
    """SpMM over tasks of ``ROWS_PER_TASK`` rows (see :attr:`SparseKernel.spmm`), compiled for
    one M and N (``per``) as well, so that an entry's column costs a shift or a multiply by a constant
    rather than a division."""
    size = block_rows(tile) * tile

    @nb.njit(parallel=True, fastmath=True, cache=True)
    def spmm(w, x, y, tb, bias):  # pragma: no cover - compiled
        n = (y.shape[0] + ROWS_PER_TASK - 1) // ROWS_PER_TASK
        for job in nb.prange(x.shape[0] * n):
            task, t0, xt, acc = tile_job(job, n, tb, tile, size, x)
            nm_block(w, task, acc, x, xt, y, t0, tile, m, per, bias)

    return spmm


@register("nm")
class NMKernel(SparseKernel):
    """N:M: ``values`` and ``positions`` (0..M-1), both (rows, cols / M, N); unused slots hold 0."""

    summary = "N values + N in-group positions per M inputs; no pointers"
    panel_tiles = (64, 16, 8)
    auto_params = ({"n": 2, "m": 4}, {"n": 1, "m": 4}, {"n": 2, "m": 8})
    spmm = staticmethod(nm_spmm)

    def __init__(self, shape: tuple[int, int], values: Any, positions: Any, m: int,
                 value_bits: int = 32) -> None:
        super().__init__(shape)
        self.values = self.store_values(values, value_bits)
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
        self.offsets = group_offsets(self.values.shape[2], self.m)

    @classmethod
    def from_encoded(cls, enc: Any) -> NMKernel:
        rows, cols = enc.matrix_shape
        shape = (rows, cols // enc.m, enc.n)
        return cls(enc.matrix_shape, enc.values.reshape(shape), enc.indices.reshape(shape), enc.m,
                   kernel_value_bits(enc))

    @property
    def stored_entries(self) -> int:
        return self.values.size

    @property
    def nbytes(self) -> int:
        return self.values.nbytes + self.positions.nbytes

    def _spmv(self, x: np.ndarray, y: np.ndarray) -> None:
        nm_spmv(*self.arrays(), x, y)

    def spmm_params(self) -> tuple[int, ...]:
        return (self.m, self.values.shape[2])

    def nonzeros(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows, groups, n = self.positions.shape
        starts = np.arange(groups)[None, :, None] * self.m
        return (np.repeat(np.arange(rows), groups * n), (starts + self.positions).reshape(-1),
                float_values(self.values).reshape(-1))

    def arrays(self) -> tuple:
        """values, positions, M and the group starts of :func:`group_offsets`."""
        return (self.values, self.positions, self.m, self.offsets)

