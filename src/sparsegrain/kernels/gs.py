"""Gather-scatter (GS) kernels: packs of B values whose B columns fall in distinct banks.

A group of R = B / E output rows is a run of packs; lane l of a pack belongs to row slot l // E of
its group (vertical E = 1: a row per lane; horizontal E = B: one row; hybrid in between). Every row
of a group has the same number of entries, so a group is a fixed-trip loop with no load imbalance;
the scatter variant writes row slot s to ``row_ids[group * R + s]`` (Sun et al., arXiv 2112.10898).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numba as nb
import numpy as np

from .base import SparseKernel, block_rows, register
from .intrinsics import LANES, NO_OFFSETS, prefetch, value_at, vgather_fma, vrun_fma, wide_vectors
from .layout import float_values, index32, kernel_value_bits, tile_job
from .steps import accumulator, add_row, zero_block
from .tuning import GATHER_RUN, GROUPS_PER_TASK, PREFETCH


@nb.njit(parallel=True, fastmath=True, cache=True)
def gs_spmv(group_ptr, values, columns, row_ids, e, x, y):  # pragma: no cover - compiled
    """A group's packs lie end to end, so runs of ``run`` = lcm(B, 16) stored entries are
    gathered 16 at a time, entry i of a run accumulating in vector lane i; lane i belongs to
    pack lane i mod B. Packs too wide for that take one scalar pass per lane."""
    wide_vectors()
    groups, b = group_ptr.shape[0] - 1, values.shape[1]
    r_per = b // e
    run = b * LANES // np.gcd(b, LANES)
    for task in nb.prange((groups + GROUPS_PER_TASK - 1) // GROUPS_PER_TASK):
        lane = np.empty(b, np.float32)
        acc = accumulator(GATHER_RUN)
        for g in range(task * GROUPS_PER_TASK, min(groups, (task + 1) * GROUPS_PER_TASK)):
            for k in range(b):
                lane[k] = 0.0
            if run <= GATHER_RUN:
                zero_block(acc)
                start, end = group_ptr[g] * b, group_ptr[g + 1] * b
                for f in range(start, end, run):
                    prefetch(values, f + PREFETCH)
                    prefetch(columns, f + PREFETCH)
                    for v in range(0, run, LANES):
                        vgather_fma(acc, v, values, columns, f + v, end - f - v, x, 0,
                                    NO_OFFSETS, 0)
                for i in range(run):
                    lane[i % b] += acc[i]
            else:
                for p in range(group_ptr[g], group_ptr[g + 1]):
                    for k in range(b):
                        lane[k] += value_at(values, p * b + k) * x[columns[p, k]]
            for s in range(r_per):
                r = row_ids[g * r_per + s]
                if 0 <= r < y.shape[0]:
                    total = np.float32(0.0)
                    for k in range(s * e, (s + 1) * e):
                        total += lane[k]
                    y[r] = total


@nb.njit(inline="always")
def gs_block(w, task, acc, x, xt, y, t0, tile, b, e, h):  # pragma: no cover - compiled
    """Group g, lanes l0..l0+h, batch tile t0: every pack multiplies each lane's value by the x
    row at its column into that lane's accumulator row (h independent FMA chains, no index
    shared; :func:`vrun_fma`); each lane's sums are then added to the output row of its slot.
    B, E and h are compile-time constants here."""
    group_ptr, values, columns, row_ids = w[0], w[1], w[2], w[3]
    rows = y.shape[0]
    groups = group_ptr.shape[0] - 1
    for g in range(task * GROUPS_PER_TASK, min(groups, (task + 1) * GROUPS_PER_TASK)):
        for l0 in range(0, b, h):
            zero_block(acc)
            for p in range(group_ptr[g], group_ptr[g + 1]):
                prefetch(values, p * b + l0 + PREFETCH)
                prefetch(columns, p * b + l0 + PREFETCH)
                vrun_fma(acc, values, p * b + l0, min(h, b - l0), x, xt * tile, columns, tile, h)
            for i in range(min(h, b - l0)):
                r = row_ids[g * (b // e) + (l0 + i) // e]
                if 0 <= r < rows:
                    add_row(acc, i, y, r, t0, tile)


@cache
def gs_spmm(tile: int, b: int, e: int) -> Callable[..., None]:
    """SpMM over tasks of ``GROUPS_PER_TASK`` row groups (see :attr:`SparseKernel.spmm`),
    compiled for one pack width B and E as well (a lane's place is then a shift and an add)."""
    h = block_rows(tile)
    size = h * tile

    @nb.njit(parallel=True, fastmath=True, cache=True)
    def spmm(w, x, y, tb, bias):  # pragma: no cover - compiled
        n = (w[0].shape[0] - 1 + GROUPS_PER_TASK - 1) // GROUPS_PER_TASK
        for job in nb.prange(x.shape[0] * n):
            task, t0, xt, acc = tile_job(job, n, tb, tile, size, x)
            gs_block(w, task, acc, x, xt, y, t0, tile, b, e, h)

    return spmm


@register("gs")
class GSKernel(SparseKernel):
    """GS packed: ``values`` and ``columns`` (packs, B), ``group_ptr`` (groups + 1), ``row_ids``."""

    summary = "packs of B values with B bank-distinct 16-bit columns; a pointer per row group"
    panel_tiles = (64,)  # at 8 and 16 columns its packs ran as fast (0.9-1.1x)
    adds_into_output = True  # a row's packs add into it group by group
    auto_params = ({"b": 8, "e": 1}, {"b": 8, "e": 8}, {"b": 16, "e": 1})
    spmm = staticmethod(gs_spmm)

    def __init__(
        self,
        shape: tuple[int, int],
        group_ptr: Any,
        values: Any,
        columns: Any,
        e: int,
        row_ids: Any = None,
        value_bits: int = 32,
    ) -> None:
        super().__init__(shape)
        self.values = self.store_values(values, value_bits)
        self.columns = np.ascontiguousarray(columns, dtype=np.uint16)
        self.group_ptr = np.ascontiguousarray(group_ptr, dtype=np.int64)
        self.e = int(e)
        b = self.values.shape[1] if self.values.ndim == 2 else 0
        if b == 0 or self.e < 1 or b % self.e:
            raise ValueError(f"GS packs of width {b} cannot hold E = {e} entries per row")
        groups = len(self.group_ptr) - 1
        slots = groups * (b // self.e)
        self.row_ids = index32(np.arange(slots) if row_ids is None else row_ids)
        if (
            self.columns.shape != self.values.shape
            or self.group_ptr[-1] != len(self.values)
            or len(self.row_ids) != slots
            or slots < self.shape[0]
        ):
            raise ValueError(f"GS arrays do not describe a {self.shape} matrix")

    @classmethod
    def from_encoded(cls, enc: Any) -> GSKernel:
        row_ids = enc.row_ids.astype(np.int64) if enc.scatter else None
        return cls(enc.matrix_shape, enc.pack_ptr, enc.values, enc.col_idx, enc.e, row_ids,
                   kernel_value_bits(enc))

    @property
    def stored_entries(self) -> int:
        return self.values.size

    @property
    def nbytes(self) -> int:
        return self.values.nbytes + self.columns.nbytes + self.group_ptr.nbytes

    def _spmv(self, x: np.ndarray, y: np.ndarray) -> None:
        gs_spmv(self.group_ptr, self.values, self.columns, self.row_ids, self.e, x, y)

    def nonzeros(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        b = self.values.shape[1]
        group = np.repeat(np.arange(len(self.group_ptr) - 1), np.diff(self.group_ptr))
        slot = group[:, None] * (b // self.e) + np.arange(b) // self.e
        rows = self.row_ids.astype(np.int64)[slot]
        real = (rows >= 0) & (rows < self.shape[0])  # slots past the last row are padding
        return rows[real], self.columns[real], float_values(self.values).reshape(rows.shape)[real]

    def spmm_params(self) -> tuple[int, ...]:
        return (self.values.shape[1], self.e)

    def arrays(self) -> tuple:
        return (self.group_ptr, self.values, self.columns, self.row_ids, self.e)

