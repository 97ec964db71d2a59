"""The vector steps the SpMM kernels are built from: exact lane arithmetic and clear type errors."""

import numba as nb
import numpy as np
import pytest
from numba.core.errors import TypingError

from sparsegrain.kernels.intrinsics import (
    LANES,
    NO_OFFSETS,
    run_value,
    vfma,
    vgather_fma,
    vrun_fma,
    vstore_lanes,
    vtranspose,
    vvalues,
    wide_vectors,
)
from sparsegrain.kernels.nm import group_offsets
from sparsegrain.kernels.steps import (
    accumulator,
    add_row,
    fold_rows,
    lane_sum,
    store_block,
    zero_block,
)

TWO_ROWS, THREE_ROWS, TWELVE_ROWS = 2 * LANES, 3 * LANES, 12 * LANES  # sizes must be constants


@nb.njit
def _two_rows(v, x, y, row0, t0, bias):
    wide_vectors()
    acc = accumulator(TWO_ROWS)
    zero_block(acc)
    for i in range(2):
        vfma(acc, i * LANES, v * (i + 1), x, 3 * LANES, LANES)
    store_block(acc, y, row0, 2, t0, LANES, bias)


@nb.njit
def _folded(x, y):
    acc = accumulator(THREE_ROWS)
    zero_block(acc)
    for i in range(3):
        vfma(acc, i * LANES, 1.0, x, i * LANES, LANES)
    fold_rows(acc, LANES)
    add_row(acc, 0, y, 0, 0, LANES)


def test_block_of_fmas_lands_in_the_right_rows_and_columns():
    x = np.arange(4 * LANES, dtype=np.float32)
    bias = np.array([10, 20, 30, 40], np.float32)
    for transposed in (False, True):
        y = np.full((4, 3 * LANES), -1.0, dtype=np.float32)
        if transposed:  # the transpose of a row-major (n, rows) array, as a Linear's output
            y = np.asfortranarray(y)
        _two_rows(np.float32(0.5), x, y, 1, LANES, bias)
        want = np.full_like(y, -1.0)
        want[1, LANES : 2 * LANES] = 0.5 * x[3 * LANES :] + 20
        want[2, LANES : 2 * LANES] = 1.0 * x[3 * LANES :] + 30
        np.testing.assert_array_equal(y, want)


def test_fold_adds_every_partial_row_into_the_output():
    x = np.random.default_rng(0).standard_normal(3 * LANES).astype(np.float32)
    y = np.ones((1, LANES), dtype=np.float32)
    _folded(x, y)
    np.testing.assert_allclose(y[0], 1 + x.reshape(3, LANES).sum(0), rtol=1e-6)


def test_vector_steps_refuse_other_dtypes_and_layouts():
    @nb.njit
    def step(acc, x):
        vfma(acc, 0, 1.0, x, 0, LANES)

    acc = np.zeros(LANES, np.float32)
    with pytest.raises(TypingError, match="C-contiguous float32"):
        step(acc, np.zeros(LANES, np.float64))
    with pytest.raises(TypingError, match="C-contiguous float32"):
        step(acc, np.zeros(2 * LANES, np.float32)[::2])


def test_accumulator_size_must_be_a_constant():
    @nb.njit
    def sized(n):
        return accumulator(n)[0]

    with pytest.raises(TypingError, match="compile-time constant"):
        sized(LANES)


@nb.njit
def _gathered(acc_at, values, indices, k, count, x, base, offsets, off_at):
    wide_vectors()
    acc = accumulator(TWO_ROWS)
    zero_block(acc)
    vgather_fma(acc, acc_at, values, indices, k, count, x, base, offsets, off_at)
    return acc[0], lane_sum(acc, 0, TWO_ROWS), acc.copy()


@pytest.mark.parametrize("count", [0, 5, LANES, LANES + 3])
@pytest.mark.parametrize("base, n, m, row", [(0, 0, 0, 0), (8, 2, 4, 1), (24, 3, 8, 2)])
def test_gather_step_reads_only_live_lanes_and_forms_columns(count, base, n, m, row):
    rng = np.random.default_rng(count + m)
    offsets = NO_OFFSETS if n == 0 else group_offsets(n, m)
    k = 3  # lanes past the arrays' end must not be read: count stops them
    values = rng.standard_normal(k + min(count, LANES)).astype(np.float32)
    indices = rng.integers(0, 4, size=len(values)).astype(np.uint8)
    x = rng.standard_normal(base + 4 * LANES).astype(np.float32)
    _, total, acc = _gathered(LANES, values, indices, k, count, x, base, offsets, row * LANES)
    want = np.zeros(TWO_ROWS, np.float32)
    for lane in range(min(count, LANES)):
        group = 0 if n == 0 else (row + lane) // n * m  # the group start of entry row + lane
        want[LANES + lane] = values[k + lane] * x[base + group + indices[k + lane]]
    np.testing.assert_allclose(acc, want, rtol=1e-6)
    assert total == pytest.approx(want.sum(), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("cb", [1, 3, 4])
def test_gather_step_without_indices_reads_a_blocks_columns(cb):
    """indices=None: lane l reads x[base + offsets[l]] (a BCSR block's columns from its first)."""
    rng = np.random.default_rng(cb)
    values = rng.standard_normal(20).astype(np.float32)
    x = rng.standard_normal(40).astype(np.float32)
    lane_cols = (np.arange(LANES) % cb).astype(np.int32)
    _, _, acc = _gathered(0, values, None, 2, 12, x, 7, lane_cols, 0)
    want = np.zeros(TWO_ROWS, np.float32)
    want[:12] = values[2:14] * x[7 + lane_cols[:12]]
    np.testing.assert_allclose(acc, want, rtol=1e-6)


def test_gather_step_refuses_signed_indices():
    values, x = np.ones(LANES, np.float32), np.ones(LANES, np.float32)
    with pytest.raises(TypingError, match="unsigned"):
        _gathered(0, values, np.zeros(LANES, np.int32), 0, LANES, x, 0, NO_OFFSETS, 0)


@nb.njit
def _decoded_run(values, at, count, out):
    run = accumulator(LANES)
    vvalues(run, values, at, count)
    for i in range(LANES):
        if i < count:
            out[i] = run_value(run, values, at, i)


@nb.njit
def _run_fma(values, at, count, x, xo, indices, y):
    wide_vectors()
    acc = accumulator(TWELVE_ROWS)
    zero_block(acc)
    vrun_fma(acc, values, at, count, x, xo, indices, LANES, 12)
    store_block(acc, y, 0, 12, 0, LANES, np.zeros(12, np.float32))


def _stored(values, bits):
    from sparsegrain.kernels.layout import stored_values

    return stored_values(values, bits)


@pytest.mark.parametrize("bits", [32, 16, 4])
@pytest.mark.parametrize("at, count", [(0, 16), (3, 16), (5, 7), (20, 0)])
def test_decoded_runs_read_each_value_whatever_its_width_and_parity(bits, at, count):
    rng = np.random.default_rng(at + count)
    values = rng.choice(np.float32([0, 0.5, -1.25, 3.0, 7.5]), 40).astype(np.float32)
    out = np.full(LANES, -9.0, np.float32)
    _decoded_run(_stored(values, bits), at, count, out)
    want = np.where(np.arange(LANES) < count, np.resize(values[at:], LANES), -9.0)
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("bits", [32, 16, 4])
@pytest.mark.parametrize("per_lane", [False, True])
def test_run_fma_adds_lane_l_into_row_l_for_live_lanes_only(bits, per_lane):
    rng = np.random.default_rng(bits)
    values = rng.choice(np.float32([0.5, -1.25, 3.0, 2.0]), 30).astype(np.float32)
    x = rng.standard_normal((9, LANES)).astype(np.float32)
    columns = rng.integers(0, 7, 30).astype(np.uint16)
    y = np.zeros((12, LANES), np.float32)
    at, count, xo = 7, 10, 2 * LANES  # 10 of the 12 rows live; x row 2 (+ each lane's column)
    _run_fma(_stored(values, bits), at, count, x.reshape(-1), xo, columns if per_lane else None, y)
    rows = 2 + (columns[at : at + count] if per_lane else np.zeros(count, int))
    want = np.zeros_like(y)
    want[:count] = values[at : at + count, None] * x[rows]
    np.testing.assert_allclose(y, want, rtol=1e-6)


@nb.njit
def _transpose(dst, at, dst_stride, src, src_at, src_stride, rows, cols, lanes):
    wide_vectors()
    return vtranspose(dst, at, dst_stride, src, src_at, src_stride, rows, cols, lanes)


@pytest.mark.parametrize("rows, cols, lanes", [(16, 16, 16), (5, 16, 16), (16, 3, 16),
                                               (7, 9, 8), (0, 16, 16), (11, 11, 11)])
def test_transpose_moves_a_block_and_zeroes_only_the_lanes_asked(rows, cols, lanes):
    """dst[c, r] = src[r, c] for the live rows and columns, zero for lanes past the rows, and
    nothing written past the lanes or the columns."""
    rng = np.random.default_rng(rows * 100 + cols)
    src = rng.standard_normal((20, 21)).astype(np.float32)
    dst = np.full((18, 19), 7.0, np.float32)
    bad = _transpose(dst, 19 + 2, 19, src, 21 + 1, 21, rows, cols, lanes)
    want = np.full((18, 19), 7.0, np.float32)
    block = np.zeros((cols, lanes), np.float32)
    live = min(rows, lanes)
    block[:, :live] = src[1 : 1 + live, 1 : 1 + cols].T
    want[1 : 1 + cols, 2 : 2 + lanes] = block
    np.testing.assert_array_equal(dst, want)
    assert bad == 0
    src[1 + max(0, rows - 1), cols] = np.inf  # inside the block where rows, cols > 0
    assert _transpose(dst, 21, 19, src, 22, 21, rows, cols, lanes) == (rows > 0)
    src[1 + rows, 1] = np.nan  # the row after the block: never read
    src[1 + max(0, rows - 1), cols] = 0.0
    assert _transpose(dst, 21, 19, src, 22, 21, rows, cols, lanes) == 0


@nb.njit
def _store_lanes(dst, at, src, src_at, lo, hi):
    wide_vectors()
    vstore_lanes(dst, at, src, src_at, lo, hi)


@pytest.mark.parametrize("lo, hi", [(0, 16), (3, 9), (5, 5), (0, 1), (15, 16)])
def test_lane_store_writes_only_its_lanes(lo, hi):
    src = np.arange(40, dtype=np.float32)
    dst = np.full(30, -1.0, np.float32)
    _store_lanes(dst, 10 - lo, src, 4, lo, hi)  # lane lo lands on dst[10]
    want = np.full(30, -1.0, np.float32)
    want[10 : 10 + hi - lo] = src[4 + lo : 4 + hi]
    np.testing.assert_array_equal(dst, want)
