import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given
from hypothesis import strategies as st

import sparsegrain as sg


@given(rows=st.integers(1, 30), cols=st.integers(1, 30), density=st.floats(0, 1),
       seed=st.integers(0, 2**31))
@pytest.mark.parametrize("fmt,ref", [("csr", sp.csr_matrix), ("csc", sp.csc_matrix)])
def test_arrays_equal_scipy(fmt, ref, rows, cols, density, seed):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(rows, cols, generator=g) * (torch.rand(rows, cols, generator=g) < density)
    enc = sg.encode(w, fmt)
    s = ref(w.numpy())
    assert np.array_equal(enc.indptr, s.indptr)
    assert np.array_equal(enc.indices, s.indices)
    assert np.array_equal(enc.data, s.data)
    assert enc.data.dtype == np.float32


def test_a_kept_zero_is_stored_when_the_mask_says_so():
    w = torch.tensor([[0.0, 2.0], [3.0, 0.0]])
    mask = torch.tensor([[True, True], [False, False]])
    enc = sg.encode(w, "csr", mask=mask)
    assert enc.indptr.tolist() == [0, 2, 2] and enc.indices.tolist() == [0, 1]
    assert enc.data.tolist() == [0.0, 2.0]
    assert torch.equal(enc.decode(), torch.tensor([[0.0, 2.0], [0.0, 0.0]]))


def test_bits_follow_the_widths():
    w = torch.zeros(8, 300)
    w[0, :5] = 1.0
    r = sg.encode(w, "csr", value_bits=8, pointer_bits=16).storage()
    assert r.bits == {"values": 5 * 8, "indices": 5 * 9, "pointers": 9 * 16}
    assert r.dense_bits == 8 * 300 * 8 and r.nnz == 5


def test_a_too_narrow_index_is_a_clear_error():
    with pytest.raises(ValueError, match="index_bits = 4 is too narrow"):
        sg.encode(torch.ones(2, 100), "csr", index_bits=4)
