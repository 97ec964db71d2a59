"""Column panels: batch tiles of a row-wise sparse product run with their x rows in L1.

A row-wise product reads one x row (a tile's worth of floats) per kept weight. At a 64-column
tile the x tile (1 MB at 4096 inputs) lives in L2, so every kept weight costs four L2-to-L1 line
fills and the kernel runs at L2's rate (at 4096 x 4096, 90 %: 1.05 ns per kept weight over two
threads, against 0.57 ns where all of x fits in L1). Here the inputs are cut into panels of
:data:`PANEL_BYTES` of x (:func:`panel_width` columns: 128 at a 64-column tile, 1,024 at an
8-column one), and a task of :data:`TASK` output rows takes the panels in turn, so that one
panel's x rows are reused by all its rows while they sit in L1. A task's partial sums live in a
stack buffer (16 KB at a 64-column tile) that the panels add into.

Within a panel a row holds a short run of entries (13 at 90 % sparsity and 128 columns): one
loop per row would mispredict its exit for every run. Rows go in groups of :data:`GROUP`
instead, every group one loop whose steps take one entry of each of its rows (16 FMA chains in
flight at 64 columns), the shorter rows padded with zero values at the panel's first column. A
task's rows are sorted by their run's length in each panel before they are grouped, so that
rows of like length share a group (at 4096 x 4096, 90 %: 5.7 % padding against 28 % with rows
grouped in order).

A plan (:func:`plan`) is built from the entries of a weight whose rows share no input (CSR,
N:M, GS) the first time a tile of its width is multiplied, and holds a second copy of its
entries (a column and a value each, in the kernel's value width) in step order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numba as nb
import numpy as np

from .intrinsics import LANES, ld, prefetch, value_at, vmove, vzero
from .layout import column_index, stored_values, tile_job
from .steps import accumulator, row_fma, store_block
from .tuning import GROUP, PANEL_BYTES, PREFETCH, TASK


def panel_width(tile: int) -> int:
    """Input columns in one panel of a ``tile``-column batch tile."""
    return PANEL_BYTES // (4 * tile)


@dataclass
class Plan:
    """A weight's entries in step order: ``ptr`` (task, panel, group) -> first step, ``rows``
    each group's rows within its task (a permutation of 0..TASK-1 per task and panel), and per
    step GROUP columns and values (padding: the panel's first column, value 0), for batch tiles
    of ``tile`` columns."""

    tile: int
    panels: int
    ptr: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    values: Any

    @property
    def width(self) -> int:
        """Input columns in one panel."""
        return panel_width(self.tile)

    @property
    def nbytes(self) -> int:
        return self.ptr.nbytes + self.rows.nbytes + self.cols.nbytes + self.values.nbytes

    def arrays(self) -> tuple:
        return (self.ptr, self.rows, self.cols, self.values)

    def multiply(self, x: np.ndarray, y: np.ndarray, t0: int, bias: np.ndarray) -> None:
        """:meth:`SparseKernel._spmm` on this plan (x tiles of :attr:`tile` columns)."""
        panel_spmm(self.tile)(self.arrays(), x, y, t0, bias)


@nb.njit(cache=True)
def _layout(indptr, indices, nrows, ncols, width):  # pragma: no cover - compiled
    """Step pointers, group rows and each step slot's entry (-1: padding) for panels of
    ``width`` columns, rows sorted by run length in every (task, panel)."""
    panels = (ncols + width - 1) // width
    tasks = (nrows + TASK - 1) // TASK
    groups = TASK // GROUP
    runs = np.zeros((tasks * TASK, panels + 1), np.int64)  # first entry of row r at panel p
    for r in range(nrows):
        k = indptr[r]
        for p in range(panels + 1):
            while k < indptr[r + 1] and indices[k] < p * width:
                k += 1
            runs[r, p] = k
    ptr = np.zeros(tasks * panels * groups + 1, np.int64)
    rows = np.empty(tasks * panels * TASK, np.uint8)
    lengths = np.zeros(TASK, np.int64)
    for t in range(tasks):
        for p in range(panels):
            for i in range(TASK):
                r = t * TASK + i
                lengths[i] = runs[r, p + 1] - runs[r, p] if r < nrows else 0
            order = np.argsort(lengths)
            at = (t * panels + p) * groups
            for g in range(groups):
                longest = 0
                for i in range(GROUP):
                    local = order[g * GROUP + i]
                    rows[at * GROUP + g * GROUP + i] = local
                    longest = max(longest, lengths[local])
                ptr[at + g + 1] = ptr[at + g] + longest
    slots = np.full(ptr[-1] * GROUP, -1, np.int64)
    for t in range(tasks):
        for p in range(panels):
            at = (t * panels + p) * groups
            for g in range(groups):
                for i in range(GROUP):
                    r = t * TASK + rows[(at + g) * GROUP + i]
                    if r < nrows:
                        for j in range(runs[r, p + 1] - runs[r, p]):
                            slots[(ptr[at + g] + j) * GROUP + i] = runs[r, p] + j
    return panels, ptr, rows, slots


def plan(shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray, values: np.ndarray,
         tile: int, value_bits: int) -> Plan:
    """The panel plan for ``tile``-column batch tiles of a weight given as its entries (row,
    column, float32 value, any order; zeros, a format's padding, left out), its values stored
    in ``value_bits`` (:func:`~.base.stored_values`: a ValueError where 4-bit codes cannot hold
    the padding's zero beside 16 nonzero values)."""
    width = panel_width(tile)
    keep = values != 0
    rows, cols, values = rows[keep], cols[keep], values[keep]
    order = np.lexsort((cols, rows))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=shape[0]))])
    indices = np.ascontiguousarray(cols[order], dtype=np.int64)
    panels, ptr, groups_rows, slots = _layout(indptr, indices, shape[0], shape[1], width)
    pad = slots < 0
    entry = order[np.where(pad, 0, slots)]
    start = np.repeat(_step_panels(ptr, panels) * width, GROUP)
    step_cols = column_index(np.where(pad, start, cols[entry]), shape[1])
    step_values = stored_values(np.where(pad, 0, values[entry]), value_bits)
    return Plan(tile, panels, ptr, groups_rows, step_cols, step_values)


def _step_panels(ptr: np.ndarray, panels: int) -> np.ndarray:
    """The panel of every step."""
    groups = TASK // GROUP
    counts = np.diff(ptr)
    group_panel = (np.arange(len(counts)) // groups) % panels
    return np.repeat(group_panel, counts)


@cache
def panel_spmm(tile: int) -> Callable[..., None]:
    """The SpMM over (batch tile, task) jobs of ``tile``-column tiles (:attr:`SparseKernel.spmm`'s
    arguments, the plan's arrays in place of the format's)."""
    size = GROUP * tile
    held = TASK * tile
    groups = TASK // GROUP

    @nb.njit(parallel=True, fastmath=True, cache=True)
    def spmm(w, x, y, tb, bias):  # pragma: no cover - compiled
        ptr, rows, cols, values = w
        nrows = y.shape[0]
        tasks = (nrows + TASK - 1) // TASK
        panels = (ptr.shape[0] - 1) // max(1, tasks * groups)
        for job in nb.prange(x.shape[0] * tasks):
            t, t0, xt, acc = tile_job(job, tasks, tb, tile, size, x)
            sums = accumulator(held)
            for a in range(0, held, LANES):
                vzero(sums, a)
            for p in range(panels):
                for g in range(groups):
                    s = (t * panels + p) * groups + g
                    for i in range(GROUP):
                        for q in range(0, tile, LANES):
                            at = np.int64(ld(rows, s * GROUP + i)) * tile + q
                            vmove(acc, i * tile + q, sums, at, tile)
                    for k in range(ld(ptr, s), ld(ptr, s + 1)):
                        prefetch(values, k * GROUP + PREFETCH)
                        prefetch(cols, k * GROUP + PREFETCH)
                        for i in range(GROUP):
                            xo = (xt + np.int64(ld(cols, k * GROUP + i))) * tile
                            row_fma(acc, i, value_at(values, k * GROUP + i), x, xo, tile)
                    for i in range(GROUP):
                        for q in range(0, tile, LANES):
                            at = np.int64(ld(rows, s * GROUP + i)) * tile + q
                            vmove(sums, at, acc, i * tile + q, tile)
            store_block(sums, y, t * TASK, min(TASK, nrows - t * TASK), t0, tile, bias)

    return spmm
