"""Every CPU kernel equals the dense torch product, for SpMV and SpMM, on random shapes."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from kernel_cases import CASES, shapes


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
