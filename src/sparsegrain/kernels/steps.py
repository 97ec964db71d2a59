"""Register-block steps of the SpMM kernels, built on the vector intrinsics of
:mod:`.intrinsics`: a stack accumulator block, a row's multiply-adds, folding partial-sum rows,
and storing a block into a row-major or transposed output."""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np
from numba import types
from numba.extending import overload

from .intrinsics import LANES, stack_floats, vfma, vmove, vscatter, vtranspose, vvalues, vzero


@nb.njit(inline="always")
def accumulator(size: int) -> Any:  # pragma: no cover - compiled
    """A float32 stack array of ``size`` elements (not zeroed); ``size`` a compile-time constant."""
    return nb.carray(stack_floats(size), size)


@nb.njit(inline="always")
def zero_block(acc: Any) -> None:  # pragma: no cover - compiled
    """Zero a whole accumulator block."""
    for a in range(0, acc.shape[0], LANES):
        vzero(acc, a)


def store_block(acc: Any, y: Any, row0: int, rows: int, t0: int, tile: int, bias: Any) -> None:
    """Write accumulator rows 0..rows-1 (``tile`` columns each) plus bias[row0 + i] (a float32
    array, zeros for a layer without one) to y[row0 + i, t0 : t0 + tile], in compiled code only
    (the bias added here: a separate pass over a Linear's output took 3 % of MiniLM's forward).
    Row by row into a row-major y; into a y that is the transpose of a row-major (n, rows)
    array, 16 rows x 16 columns at a time, transposed in registers into contiguous stores:
    stored row by row, a row's floats would lie 16 KB apart at 4096 rows, all in one L1 set."""
    raise NotImplementedError("store_block runs inside compiled kernels only")


@overload(store_block, inline="always", prefer_literal=True)
def _store_block(acc, y, row0, rows, t0, tile, bias):  # numba matches the stub's names only
    if isinstance(y, types.Array) and y.layout == "C":
        def by_rows(acc, y, row0, rows, t0, tile, bias):  # pragma: no cover - compiled
            add_bias(acc, row0, rows, tile, bias)
            for i in range(acc.shape[0] // tile):
                if i < rows:
                    put_row(acc, i, y, row0 + i, t0, tile, False)
        return by_rows

    def by_columns(acc, y, row0, rows, t0, tile, bias):  # pragma: no cover - compiled
        add_bias(acc, row0, rows, tile, bias)
        n = y.shape[0]
        for i0 in range(0, rows, LANES):
            for t in range(0, tile, LANES):
                vtranspose(y, row0 + i0 + (t0 + t) * n, n, acc, i0 * tile + t, tile, rows - i0,
                           tile - t, rows - i0)
    return by_columns


@nb.njit(inline="always")
def add_bias(acc: Any, row0: int, rows: int, tile: int, bias: Any) -> None:  # pragma: no cover - compiled
    """Accumulator row i += bias[row0 + i] for the rows a block stores."""
    for i in range(min(rows, acc.shape[0] // tile)):
        b = bias[row0 + i]
        for t in range(tile):
            acc[i * tile + t] += b


@nb.njit(inline="always")
def row_fma(acc: Any, i: int, v: Any, x: Any, xo: int, tile: int) -> None:  # pragma: no cover - compiled
    """Accumulator row i (``tile`` columns) += v * the ``tile`` floats of x from flat offset xo:
    the step every SpMM kernel takes per stored value."""
    for t in range(0, tile, LANES):
        vfma(acc, i * tile + t, v, x, xo + t, tile)


@nb.njit(inline="always")
def row_entries(acc, run, values, at, length, h, entry, w, c, x, xt, tile):  # pragma: no cover - compiled
    """``entry(acc, i, run, w, c, at, j, x, xt, tile)`` (``c``: the format's sizes, constants once
    inlined) for the ``length`` stored entries of a row whose values start at flat offset
    ``at``, entry j into partial-sum row j mod h (h independent FMA chains) with its value as
    ``run_value(run, values, at, j mod 16)``. The values are decoded 16 at a time
    (:func:`vvalues`); whole runs go without a test, only the last run checks each entry."""
    j = 0
    while j + LANES <= length:
        vvalues(run, values, at + j, LANES)
        for q in range(0, LANES, h):
            for i in range(h):
                entry(acc, i, run, w, c, at + j, q + i, x, xt, tile)
        j += LANES
    vvalues(run, values, at + j, length - j)
    for q in range(0, LANES, h):
        for i in range(h):
            if j + q + i < length:
                entry(acc, i, run, w, c, at + j, q + i, x, xt, tile)


@nb.njit(inline="always")
def fold_rows(acc: Any, tile: int) -> None:  # pragma: no cover - compiled
    """Add every accumulator row (``tile`` columns each) into row 0: partial sums kept in
    separate rows give independent FMA chains, so one output row still fills the FMA pipes."""
    for i in range(1, acc.shape[0] // tile):
        row_fma(acc, 0, 1.0, acc, i * tile, tile)


@nb.njit(inline="always")
def add_row(
    acc: Any, i: int, y: Any, row: int, t0: int, tile: int
) -> None:  # pragma: no cover - compiled
    """y[row, t0 : t0 + tile] += accumulator row i."""
    put_row(acc, i, y, row, t0, tile, True)


def put_row(acc: Any, i: int, y: Any, row: int, t0: int, tile: int, add: bool) -> None:
    """y[row, t0 : t0 + tile] = (``add``: +=) accumulator row i, in compiled code only. A
    row-major y (rows, n) takes whole vectors; a y that is the transpose of a row-major (n, rows)
    array (a Linear layer's output, written in place rather than transposed after) takes
    scatters, a row's floats lying ``rows`` apart."""
    raise NotImplementedError("put_row runs inside compiled kernels only")


@overload(put_row, inline="always", prefer_literal=True)
def _put_row(acc, i, y, row, t0, tile, add):  # numba matches the stub's argument names only
    if isinstance(y, types.Array) and y.layout == "C":
        def vectors(acc, i, y, row, t0, tile, add):  # pragma: no cover - compiled
            n = y.shape[1]
            for t in range(0, tile, LANES):
                if add:
                    vfma(y, row * n + t0 + t, 1.0, acc, i * tile + t, tile)
                else:
                    vmove(y, row * n + t0 + t, acc, i * tile + t, tile)
        return vectors

    def scattered(acc, i, y, row, t0, tile, add):  # pragma: no cover - compiled
        rows = y.shape[0]
        for t in range(0, tile, LANES):
            vscatter(y, row + (t0 + t) * rows, rows, acc, i * tile + t, tile, add)
    return scattered


@nb.njit(inline="always")
def lane_sum(acc: Any, a: int, n: int) -> Any:  # pragma: no cover - compiled
    """acc[a] + ... + acc[a + n - 1] as float32."""
    s = np.float32(0.0)
    for i in range(a, a + n):
        s += acc[i]
    return s
