"""A convolution lowered to W (channel-last matrix) @ im2col columns equals torch's convolution."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from sparsegrain.experiments.lowering import im2col
from sparsegrain.patterns import to_matrix


@given(c_in=st.integers(1, 4), c_out=st.integers(1, 5), k=st.integers(1, 3),
       size=st.integers(3, 7), stride=st.integers(1, 2), padding=st.integers(0, 2),
       seed=st.integers(0, 2**16))
def test_conv2d_equals_its_im2col_gemm(c_in, c_out, k, size, stride, padding, seed) -> None:
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(c_out, c_in, k, k + 1 if size > k + 1 else k, generator=g, dtype=torch.float64)
    x = torch.randn(c_in, size, size, generator=g, dtype=torch.float64)
    cols = im2col(x, tuple(w.shape[2:]), stride, padding)
    ref = F.conv2d(x[None], w, stride=stride, padding=padding)[0]
    assert torch.allclose(to_matrix(w) @ cols, ref.reshape(c_out, -1))


def test_conv1d_equals_its_im2col_gemm() -> None:
    g = torch.Generator().manual_seed(0)
    w = torch.randn(6, 3, 5, generator=g)
    x = torch.randn(3, 20, generator=g)
    ref = F.conv1d(x[None], w, stride=2, padding=1)[0]
    got = to_matrix(w) @ im2col(x, (5,), stride=2, padding=1)
    assert torch.allclose(got, ref.reshape(6, -1), atol=1e-5)


def test_a_batched_input_is_refused() -> None:
    with pytest.raises(ValueError, match=r"one sample of shape \(C_in, \*spatial\)"):
        im2col(torch.zeros(1, 3, 4, 4), (3, 3))
