"""im2col convolution over an encoded weight equals torch's conv2d of the dense pruned weight."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from sparsegrain.kernels import conv2d
from sparsegrain.kernels.csr import CSRKernel
from sparsegrain.patterns import to_matrix


@given(
    seed=st.integers(0, 2**31),
    c_in=st.integers(1, 5), c_out=st.integers(1, 7), k=st.sampled_from([(1, 1), (3, 3), (2, 3)]),
    stride=st.sampled_from([(1, 1), (2, 1)]), padding=st.sampled_from([(0, 0), (1, 2)]),
    dilation=st.sampled_from([(1, 1), (2, 2)]), batch=st.integers(1, 3),
)
def test_conv_equals_torch(seed, c_in, c_out, k, stride, padding, dilation, batch):
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(c_out, c_in, *k, generator=gen)
    w = w * (torch.rand(w.shape, generator=gen) < 0.4)
    x = torch.randn(batch, c_in, 9, 8, generator=gen)
    m = to_matrix(w).numpy()
    r, c = np.nonzero(m)
    kernel = CSRKernel(m.shape, np.concatenate([[0], np.cumsum((m != 0).sum(1))]), c, m[r, c])
    got = conv2d(kernel, x, k, stride, padding, dilation)
    want = F.conv2d(x, w, stride=stride, padding=padding, dilation=dilation)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_channel_mismatch_is_named():
    kernel = CSRKernel((2, 18), np.zeros(3, dtype=np.int64), [], [])
    with pytest.raises(ValueError, match="input has 3 channels but the csr weight expects 2"):
        conv2d(kernel, torch.zeros(1, 3, 5, 5), (3, 3))
