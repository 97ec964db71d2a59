"""Conformance of every registered kernel: on a mask of the pattern its format exploits, every
product (vector, each batch tile width and a ragged remainder, Linear with and without its bias)
equals dense."""

from __future__ import annotations

import pytest
import torch

from sparsegrain.formats import FORMATS
from sparsegrain.kernels import KERNELS
from sparsegrain.kernels.build import kernel_for

from .members import native, weight


@pytest.mark.parametrize("fmt", list(KERNELS))
def test_kernel_member(fmt):
    assert KERNELS[fmt].summary and fmt in FORMATS
    spec, params = native(FORMATS[fmt].for_pattern)
    w = weight((64, 96))
    w = w * spec.mask(w, 0.8)
    k = kernel_for(w, fmt, **params)
    assert k.shape == (64, 96) and k.stored_entries >= int((w != 0).sum()) and k.nbytes > 0
    for batch in (1, 3, 16, 64, 85):
        x = weight((96, batch), seed=batch)
        ref = w @ x
        got = k.matmul(x[:, 0] if batch == 1 else x)
        torch.testing.assert_close(got.reshape(ref.shape), ref, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(k.linear(x.T), ref.T, atol=1e-4, rtol=1e-4)
        bias = weight((64,), seed=7)
        got = torch.from_numpy(k.rows_product(x.T.contiguous().numpy(), bias.numpy()))
        torch.testing.assert_close(got, ref.T + bias, atol=1e-4, rtol=1e-4)
