"""The shared im2col: a convolution equals its channel-last weight matrix times the patches."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from sparsegrain.core.lowering import im2col
from sparsegrain.patterns import to_matrix


@given(n=st.integers(1, 3), c_in=st.integers(1, 4), c_out=st.integers(1, 5), k=st.integers(1, 3),
       size=st.integers(3, 7), stride=st.integers(1, 2), padding=st.integers(0, 2),
       dilation=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_conv2d_equals_its_im2col_gemm(n, c_in, c_out, k, size, stride, padding, dilation, seed):
    g = torch.Generator().manual_seed(seed)
    kw = k + 1 if size > k + 1 else k
    w = torch.randn(c_out, c_in, k, kw, generator=g, dtype=torch.float64)
    x = torch.randn(n, c_in, size + 2 * dilation, size + 2 * dilation, generator=g,
                    dtype=torch.float64)
    patches = im2col(x, (k, kw), stride, padding, dilation)
    ref = F.conv2d(x, w, stride=stride, padding=padding, dilation=dilation)
    got = (patches @ to_matrix(w).T).reshape(n, *ref.shape[2:], c_out).permute(0, 3, 1, 2)
    assert torch.allclose(got, ref)


def test_an_unbatched_input_is_refused() -> None:
    with pytest.raises(ValueError, match=r"4-D \(N, C, H, W\) input"):
        im2col(torch.zeros(3, 4, 4), (3, 3))
