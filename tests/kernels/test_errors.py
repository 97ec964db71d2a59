"""Bad inputs to the CPU kernels raise a ValueError that says what was wrong."""

import numpy as np
import pytest
import torch
from kernel_cases import csr_case

from sparsegrain.kernels.csr import CSRKernel
from sparsegrain.kernels.gs import GSKernel


@pytest.fixture
def kernel():
    return csr_case(np.random.default_rng(0), 5, 7)[0]


@pytest.mark.parametrize("shape", [(6,), (6, 3), (7, 2, 2)])
def test_shape_mismatch(kernel, shape):
    with pytest.raises(ValueError, match=r"expected \(7,\) or \(7, batch\)"):
        kernel @ torch.zeros(shape)


@pytest.mark.parametrize("x", [torch.zeros(7, 2, dtype=torch.int64), np.zeros(7, dtype=bool), [0.0] * 7])
def test_bad_dtype_or_type(kernel, x):
    with pytest.raises(ValueError, match="input"):
        kernel @ x


def test_arrays_must_describe_the_shape():
    with pytest.raises(ValueError, match="CSR arrays"):
        CSRKernel((3, 3), [0, 1, 2], [0, 1], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"column indices must lie in 0\.\.2"):
        CSRKernel((1, 3), [0, 2], [0, 3], [1.0, 2.0])
    with pytest.raises(ValueError, match="cannot hold E = 3"):
        GSKernel((8, 8), [0, 1], np.zeros((1, 8)), np.zeros((1, 8)), e=3)


def test_linear_names_the_input_as_given():
    """A Linear input with the wrong width is reported in its own (batch, cols) shape."""
    import sparsegrain as sg
    from sparsegrain.kernels import KERNELS

    w = torch.randn(64, 32)
    w = w * sg.pattern("block:4x4").mask(w, 0.5)
    kernel = KERNELS["bcsr"].from_encoded(sg.encode(w, "bcsr"))
    with pytest.raises(ValueError, match=r"input of shape \(4, 31\).*expects \(batch, 32\)"):
        kernel.linear(torch.randn(4, 31))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("batch", [1, 8, 17, 64, 70])
@pytest.mark.parametrize("linear", [False, True])
def test_non_finite_inputs_are_refused_on_every_path(bad, batch, linear):
    """NaN or inf anywhere in the input (a Linear input is checked as its transposing copy reads
    it, a product's in place or as it is copied) is one clear error, never a silent product."""
    kernel, _ = csr_case(np.random.default_rng(1), 70, 150)
    for row, col in [(0, 0), (batch - 1, 149), (batch // 2, 77)]:
        x = torch.randn(batch, 150)
        x[row, col] = bad
        with pytest.raises(ValueError, match=r"input holds 1 NaN or inf value\(s\) of"):
            kernel.linear(x) if linear else kernel @ x.T.contiguous()
