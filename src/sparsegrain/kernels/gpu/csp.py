"""Triton CSP SpMM: one program per output chunk and batch block; cells in blocks of BLOCK_K."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..csp import CSPKernel
from .base import GPUKernel


@triton.jit
def csp_spmm_kernel(values, chunk_ptr, cell_input, x, y, rows, n,
                    C: tl.constexpr, CP: tl.constexpr, BLOCK_K: tl.constexpr,
                    BLOCK_N: tl.constexpr):
    j = tl.program_id(0)
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    in_n = offs_n < n
    q = tl.arange(0, CP)
    acc = tl.zeros((CP, BLOCK_N), dtype=tl.float32)
    end = tl.load(chunk_ptr + j + 1)
    for k0 in range(tl.load(chunk_ptr + j), end, BLOCK_K):
        cell = k0 + tl.arange(0, BLOCK_K)
        in_k = cell < end
        i = tl.load(cell_input + cell, mask=in_k, other=0)
        v = tl.load(values + cell[:, None] * C + q[None, :],
                    mask=in_k[:, None] & (q < C)[None, :], other=0.0)
        xg = tl.load(x + i[:, None] * n + offs_n[None, :], mask=in_k[:, None] & in_n[None, :],
                     other=0.0)
        acc += tl.sum(v.to(tl.float32)[:, :, None] * xg.to(tl.float32)[:, None, :], axis=0)
    o = j * C + q
    tl.store(y + o[:, None] * n + offs_n[None, :], acc,
             mask=((q < C) & (o < rows))[:, None] & in_n[None, :])


class CSPGPU(GPUKernel):
    """CSP weave on the Triton device: values (cells, C) fp16/bf16 in chunk order."""

    fmt = "csp"

    def __init__(self, cpu: CSPKernel, dtype: torch.dtype = torch.float16) -> None:
        super().__init__(cpu, dtype)
        self.c = cpu.values.shape[1]
        self.values = self.to_device(cpu.values, dtype)
        self.chunk_ptr = self.to_device(cpu.chunk_ptr)
        self.cell_input = self.to_device(cpu.cell_input)

    def matmul(self, x: torch.Tensor, block_n: int = 64, block_k: int = 16) -> torch.Tensor:
        """``W @ x`` for x (cols, batch); float32 result (rows, batch)."""
        x = self.check_input(x)
        n = x.shape[1]
        y = torch.zeros(self.shape[0], n, device=self.device, dtype=torch.float32)
        grid = (len(self.chunk_ptr) - 1, triton.cdiv(n, block_n))
        csp_spmm_kernel[grid](self.values, self.chunk_ptr, self.cell_input, x, y, self.shape[0],
                              n, C=self.c, CP=triton.next_power_of_2(self.c), BLOCK_K=block_k,
                              BLOCK_N=block_n)
        return y
