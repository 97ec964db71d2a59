"""Kernels bound to the formats' Encoded objects equal the dense product of the decoded weight."""

import pytest
import torch

import sparsegrain as sg
from sparsegrain.kernels import KERNELS

#: the pattern whose masks each format holds, and the format's parameters for it
MASKS = {
    "csr": ("unstructured", {}),
    "bcsr": ("block:4x2", {"block_rows": 4, "block_cols": 2}),
    "nm": ("nm:2:4", {"n": 2, "m": 4}),
    "gs": ("", {"b": 8, "e": 1}),
    "csp": ("csp:4", {"c": 4}),
}
BOUND = sorted(MASKS)  # every kernel: tests/conformance/test_kernels.py


def gs_mask(shape, gen):
    """A GS-valid mask for B = 8, E = 1: in each column block j of 8 (one per bank), row s of a
    group of 8 rows keeps bank (s + j) mod 8, for a random half of the blocks of each group."""
    rows, cols = shape
    mask = torch.zeros(shape, dtype=torch.bool)
    for g in range(rows // 8):
        for j in torch.nonzero(torch.rand(cols // 8, generator=gen) < 0.5).flatten().tolist():
            for s in range(8):
                mask[g * 8 + s, j * 8 + (s + j) % 8] = True
    return mask


@pytest.mark.parametrize("fmt", BOUND)
@pytest.mark.parametrize("shape", [(16, 24), (40, 64)])
@pytest.mark.parametrize("batch", [1, 5, 64])
def test_encoded_kernel_equals_dense(fmt, shape, batch, gen):
    spec, params = MASKS[fmt]
    w = torch.randn(shape, generator=gen)
    w = w * (sg.pattern(spec).mask(w, 0.5) if spec else gs_mask(shape, gen))
    enc = sg.encode(w, fmt, value_bits=32, **params)
    kernel = KERNELS[fmt].from_encoded(enc)
    x = torch.randn(shape[1], batch, generator=gen)
    torch.testing.assert_close(kernel @ x, enc.decode().float() @ x, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(kernel.linear(x.T), x.T @ w.T, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fmt", BOUND)
@pytest.mark.parametrize("batch", [1, 8, 24, 64])
def test_16_bit_values_multiply_as_their_float16_rounding(fmt, batch, gen):
    """An encoding of 16-bit values gives a kernel holding float16 values (half the bytes) whose
    product is the float32 product of the float16-rounded weight."""
    spec, params = MASKS[fmt]
    shape = (40, 64)
    w = torch.randn(shape, generator=gen) * 3
    w = w * (sg.pattern(spec).mask(w, 0.5) if spec else gs_mask(shape, gen))
    kernel = KERNELS[fmt].from_encoded(sg.encode(w, fmt, value_bits=16, **params))
    full = KERNELS[fmt].from_encoded(sg.encode(w, fmt, value_bits=32, **params))
    assert kernel.value_bits == 16 and full.value_bits == 32
    assert kernel.nbytes < full.nbytes
    x = torch.randn(shape[1], batch, generator=gen)
    want = w.half().double() @ x.double()
    torch.testing.assert_close((kernel @ x).double(), want, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(kernel @ x, full @ x, rtol=0, atol=0)  # the rounding is real


def test_values_beyond_float16_are_refused():
    w = torch.tensor([[1.0, 0.0], [0.0, 7e4]])
    with pytest.raises(ValueError, match="exceed float16's range.*value_bits=32"):
        KERNELS["csr"].from_encoded(sg.encode(w, "csr", value_bits=16))
