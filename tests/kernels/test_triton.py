"""The Triton GS, block-CSR and CSP kernels equal the dense product (interpreted without CUDA)."""

import os

import numpy as np
import pytest
import torch

if not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"  # before triton compiles anything

from functools import partial  # noqa: E402

from kernel_cases import bcsr_case, csp_case, gs_case  # noqa: E402

from sparsegrain.kernels.gpu import BCSRGPU, CSPGPU, GSGPU, check_runtime  # noqa: E402

gs_pow2 = partial(gs_case, widths=(4, 8, 16))  # the Triton GS kernel takes B a power of two
GPU = {"gs": (gs_pow2, GSGPU), "bcsr": (bcsr_case, BCSRGPU), "csp": (csp_case, CSPGPU)}


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("fmt", sorted(GPU))
@pytest.mark.parametrize("seed", range(3))
def test_triton_kernel_equals_dense(fmt, dtype, seed):
    rng = np.random.default_rng(seed)
    make, gpu = GPU[fmt]
    cpu, w = make(rng, int(rng.integers(1, 24)), int(rng.integers(1, 24)))
    kernel = gpu(cpu, dtype)
    x = torch.from_numpy(rng.standard_normal((cpu.shape[1], int(rng.integers(1, 9))))).to(dtype)
    want = torch.from_numpy(w).double() @ x.double()
    got = kernel @ x.to(kernel.device)
    assert got.dtype == torch.float32
    tol = 2e-2 if dtype == torch.float16 else 8e-2  # values rounded to 11 or 8 significant bits
    torch.testing.assert_close(got.cpu().double(), want, rtol=tol, atol=tol)


def test_bad_inputs_are_named():
    cpu, _ = gs_pow2(np.random.default_rng(0), 8, 16)
    with pytest.raises(ValueError, match="float16 or torch.bfloat16"):
        GSGPU(cpu, torch.float32)
    kernel = GSGPU(cpu)
    with pytest.raises(ValueError, match=r"expected \(16, batch\)"):
        kernel @ torch.zeros(15, 2, device=kernel.device)
    with pytest.raises(ValueError, match="takes a bcsr kernel"):
        BCSRGPU(cpu)


def test_runtime_without_cuda_or_interpreter_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="need a CUDA GPU"):
        check_runtime()
