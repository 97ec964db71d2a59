"""The vector steps the SpMM kernels are built from: exact lane arithmetic and clear type errors."""

import numba as nb
import numpy as np
import pytest
from numba.core.errors import TypingError

from sparsegrain.kernels.nm import group_offsets
from sparsegrain.kernels.simd import (
    LANES,
    NO_OFFSETS,
    accumulator,
    add_row,
    fold_rows,
    lane_sum,
    store_block,
    vfma,
    vgather_fma,
    wide_vectors,
    zero_block,
)

TWO_ROWS, THREE_ROWS = 2 * LANES, 3 * LANES  # accumulator sizes must be constants


@nb.njit
def _two_rows(v, x, y, row0, t0):
    wide_vectors()
    acc = accumulator(TWO_ROWS)
    zero_block(acc)
    for i in range(2):
        vfma(acc, i * LANES, v * (i + 1), x, 3 * LANES, LANES)
    store_block(acc, y, row0, 2, t0, LANES)


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
    y = np.full((4, 3 * LANES), -1.0, dtype=np.float32)
    _two_rows(np.float32(0.5), x, y, 1, LANES)
    want = np.full_like(y, -1.0)
    want[1, LANES : 2 * LANES] = 0.5 * x[3 * LANES :]
    want[2, LANES : 2 * LANES] = 1.0 * x[3 * LANES :]
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


def test_gather_step_refuses_signed_indices():
    values, x = np.ones(LANES, np.float32), np.ones(LANES, np.float32)
    with pytest.raises(TypingError, match="unsigned"):
        _gathered(0, values, np.zeros(LANES, np.int32), 0, LANES, x, 0, NO_OFFSETS, 0)
