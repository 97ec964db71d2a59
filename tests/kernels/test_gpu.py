"""On a CUDA GPU: the compiled Triton kernels and the 2:4 baseline equal cuBLAS (skipped without)."""

import numpy as np
import pytest
import torch

import sparsegrain as sg

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


@pytest.mark.parametrize("fmt", ["gs", "bcsr", "csp"])
def test_compiled_kernels_equal_cublas(fmt):
    from kernel_cases import CASES

    from sparsegrain.kernels.gpu import BCSRGPU, CSPGPU, GSGPU

    cpu, w = CASES[fmt](np.random.default_rng(0), 512, 768)
    kernel = {"gs": GSGPU, "bcsr": BCSRGPU, "csp": CSPGPU}[fmt](cpu, torch.float16)
    x = torch.randn(cpu.shape[1], 256, device="cuda", dtype=torch.float16)
    want = torch.from_numpy(w).cuda().half().float() @ x.float()
    torch.testing.assert_close(kernel @ x, want, rtol=2e-2, atol=2e-2)


def test_semi_structured_baseline_equals_dense():
    from sparsegrain.kernels.gpu import semi_structured_linear

    w = torch.randn(256, 256)
    w = (w * sg.pattern("nm:2:4").mask(w, 0.5)).half().cuda()
    x = torch.randn(64, 256, device="cuda", dtype=torch.float16)
    got = torch.nn.functional.linear(x, semi_structured_linear(w))
    torch.testing.assert_close(got.float(), (x @ w.T).float(), rtol=2e-2, atol=2e-2)
