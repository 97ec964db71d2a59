"""Every CPU kernel equals the dense torch product, for SpMV and SpMM, on random shapes."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from kernel_cases import CASES, ONE_PACK_WIDTH, SharedValues, shapes


@pytest.mark.parametrize("fmt", sorted(CASES))
@given(case=shapes(), batch=st.sampled_from([1, 2, 15, 16, 17, 64, 81]))
def test_kernel_equals_dense(fmt, case, batch):
    rng, rows, cols = case
    kernel, w = CASES[fmt](rng, rows, cols)
    x = torch.from_numpy(rng.standard_normal((kernel.shape[1], batch)).astype(np.float32))
    want = torch.from_numpy(w).double() @ x.double()
    got = kernel @ x
    assert got.shape == (kernel.shape[0], batch) and got.dtype == torch.float32
    torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fmt", sorted(CASES))
@given(case=shapes(), batch=st.sampled_from([1, 8, 17, 64]))
def test_4_bit_codes_equal_dense(fmt, case, batch):
    """Values of at most 16 distinct numbers stored as 4-bit codes (two a byte, runs starting
    on odd codes as often as even) multiply as the float32 values do."""
    from sparsegrain.kernels.codes import Codes

    rng, rows, cols = case
    kernel, w = CASES[fmt](SharedValues(rng), rows, cols, value_bits=4)
    assert kernel.value_bits == 4 and sum(isinstance(a, Codes) for a in kernel.arrays()) == 1
    x = torch.from_numpy(rng.standard_normal((kernel.shape[1], batch)).astype(np.float32))
    want = torch.from_numpy(w).double() @ x.double()
    got = kernel.matmul(x[:, 0] if batch == 1 else x).reshape(want.shape)
    torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fmt", sorted(CASES))
@given(case=shapes())
def test_vector_input_gives_vector(fmt, case):
    rng, rows, cols = case
    kernel, w = CASES[fmt](rng, rows, cols)
    x = rng.standard_normal(kernel.shape[1]).astype(np.float32)
    got = kernel.matmul(x)
    assert got.shape == (kernel.shape[0],)
    np.testing.assert_allclose(got.numpy(), w.astype(np.float64) @ x, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_linear_on_strided_rows_leaves_input_alone(fmt):
    """A Linear input (batch, cols) given as a transposed view: same result, input untouched."""
    rng = np.random.default_rng(7)
    kernel, w = CASES[fmt](rng, 37, 53)
    x = torch.from_numpy(rng.standard_normal((kernel.shape[1], 83)).astype(np.float32))
    before = x.clone()
    got = kernel.linear(x.T)
    assert got.shape == (83, kernel.shape[0])
    torch.testing.assert_close(
        got.double(), x.T.double() @ torch.from_numpy(w).double().T, rtol=1e-4, atol=1e-4
    )
    assert torch.equal(x, before)


@pytest.mark.parametrize("fmt", sorted(CASES))
@given(case=shapes(), batch=st.sampled_from([2, 8, 17, 64, 81]), codes=st.booleans())
def test_linear_writes_its_output_in_place(fmt, case, batch, codes):
    """The kernel writes a Linear layer's (batch, rows) output itself, scattering each row's
    floats (every batch tile width, GS adding into its rows): contiguous and equal to dense."""
    rng, rows, cols = case
    make = ONE_PACK_WIDTH.get(fmt, CASES[fmt])
    kernel, w = make(SharedValues(rng), rows, cols, value_bits=4) if codes else make(rng, rows, cols)
    x = torch.from_numpy(rng.standard_normal((batch, kernel.shape[1])).astype(np.float32))
    got = kernel.linear(x)
    assert got.shape == (batch, kernel.shape[0]) and got.is_contiguous()
    torch.testing.assert_close(got.double(), x.double() @ torch.from_numpy(w).double().T,
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(3,), (2, 7, 16), (0, 5)])
@pytest.mark.parametrize("zero", [False, True])
def test_buffers_start_on_a_cache_line(shape, zero):
    """The vector steps' operands are cache-line aligned (numpy gives only 16 bytes), whatever the
    allocator returns."""
    from sparsegrain.kernels.layout import aligned, tile_major
    from sparsegrain.kernels.tuning import ALIGN

    for _ in range(8):
        a = aligned(shape, zero=zero)
        assert a.shape == shape and a.dtype == np.float32 and a.flags.c_contiguous
        assert a.size == 0 or a.ctypes.data % ALIGN == 0
        if zero:
            assert not a.any()
    x = np.arange(35 * 3, dtype=np.float32).reshape(35, 3)
    t = tile_major(x, 0, 8, 8)
    assert t.ctypes.data % ALIGN == 0
    np.testing.assert_array_equal(t[0, :, :3], x)
    assert not t[0, :, 3:].any()
    one = aligned((35, 16))
    one[...] = 1.0
    assert np.shares_memory(tile_major(one, 0, 16, 16), one)  # one aligned tile: used in place
    assert not np.shares_memory(tile_major(one[:, :8], 0, 16, 16), one)


def test_tile_copies_reuse_a_scratch_buffer_per_thread_and_pad_with_zeros():
    """A Linear input's tile copy lands in the thread's scratch buffer, whatever an earlier use
    left there: zero past the last row; another thread gets its own buffer."""
    import threading

    from sparsegrain.kernels.layout import scratch, tile_major

    rng = np.random.default_rng(4)
    x = rng.standard_normal((37, 21)).astype(np.float32)
    for tile in (64, 16, 8):
        scratch((4096,))[:] = np.nan
        t = tile_major(x.T, 0, -(-37 // tile) * tile, tile)
        padded = np.zeros((t.shape[0] * tile, 21), np.float32)
        padded[:37] = x
        np.testing.assert_array_equal(t, padded.reshape(-1, tile, 21).transpose(0, 2, 1))
    mine = scratch((10,))
    theirs = []
    worker = threading.Thread(target=lambda: theirs.append(scratch((10,))))
    worker.start()
    worker.join()
    assert not np.shares_memory(mine, theirs[0])
    assert np.shares_memory(mine, scratch((5,)))


def test_column_indices_are_narrow_and_unsigned():
    kernel = CASES["csr"](np.random.default_rng(3), 9, 70)[0]
    assert kernel.indices.dtype == np.uint16
    from sparsegrain.kernels.layout import column_index

    assert column_index(np.array([0, 70000]), 70001).dtype == np.uint32


@pytest.mark.parametrize("n", [1, 2, 3, 8, 64, 100, 512, 1000])
def test_spread_visits_every_task_once_and_samples_them_evenly(n):
    """Each half of the jobs (what numba's parallel loop gives each of two threads) gets about
    half of the first tenth of the tasks, where CSP's work lies."""
    import numba as nb

    from sparsegrain.kernels.layout import spread, spread_stride

    order = nb.njit(lambda n: [spread(i, n, spread_stride(n)) for i in range(n)])(n)
    assert sorted(order) == list(range(n))
    first = [t < max(1, n // 10) for t in order]
    if n >= 64:
        assert abs(sum(first[: n // 2]) - sum(first[n // 2 :])) <= max(2, n // 50)


@pytest.mark.parametrize("fmt", sorted(CASES))
@given(case=shapes(), batch=st.sampled_from([2, 16, 17, 64]), linear=st.booleans())
def test_outputs_left_unzeroed_are_all_written(fmt, case, batch, linear):
    """Kernels that store every output get an output buffer nobody zeroed: filled with NaN here,
    a single output the kernel failed to write would show."""
    from unittest import mock

    from sparsegrain.kernels import base

    def poisoned(shape, zero=False):
        return np.zeros(shape, np.float32) if zero else np.full(shape, np.nan, np.float32)

    rng, rows, cols = case
    kernel, w = ONE_PACK_WIDTH.get(fmt, CASES[fmt])(rng, rows, cols)
    x = torch.from_numpy(rng.standard_normal((kernel.shape[1], batch)).astype(np.float32))
    want = torch.from_numpy(w).double() @ x.double()
    with mock.patch.object(base, "aligned", poisoned):
        got = kernel.linear(x.T).T if linear else kernel @ x
    torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-4)
