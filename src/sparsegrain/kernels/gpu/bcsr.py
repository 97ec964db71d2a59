"""Triton block-CSR SpMM: one program per block row and batch block, a block product per step."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..bcsr import BCSRKernel
from .base import GPUKernel


@triton.jit
def bcsr_spmm_kernel(indptr, indices, blocks, x, y, rows, cols, n,
                     R: tl.constexpr, C: tl.constexpr, RP: tl.constexpr, CP: tl.constexpr,
                     BLOCK_N: tl.constexpr):
    b = tl.program_id(0)
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    in_n = offs_n < n
    rr = tl.arange(0, RP)
    cc = tl.arange(0, CP)
    in_block = (rr[:, None] < R) & (cc[None, :] < C)
    acc = tl.zeros((RP, BLOCK_N), dtype=tl.float32)
    for k in range(tl.load(indptr + b), tl.load(indptr + b + 1)):
        blk = tl.load(blocks + k * R * C + rr[:, None] * C + cc[None, :], mask=in_block, other=0.0)
        xc = tl.load(indices + k) * C + cc
        xb = tl.load(x + xc[:, None] * n + offs_n[None, :],
                     mask=((cc < C) & (xc < cols))[:, None] & in_n[None, :], other=0.0)
        acc += tl.sum(blk.to(tl.float32)[:, :, None] * xb.to(tl.float32)[None, :, :], axis=1)
    r = b * R + rr
    tl.store(y + r[:, None] * n + offs_n[None, :], acc,
             mask=((rr < R) & (r < rows))[:, None] & in_n[None, :])


class BCSRGPU(GPUKernel):
    """Block CSR on the Triton device, block values fp16/bf16."""

    fmt = "bcsr"

    def __init__(self, cpu: BCSRKernel, dtype: torch.dtype = torch.float16) -> None:
        super().__init__(cpu, dtype)
        self.r, self.c = cpu.data.shape[1:]
        self.indptr = self.to_device(cpu.indptr)
        self.indices = self.to_device(cpu.indices)
        self.blocks = self.to_device(cpu.data, dtype)

    def matmul(self, x: torch.Tensor, block_n: int = 64) -> torch.Tensor:
        """``W @ x`` for x (cols, batch); float32 result (rows, batch)."""
        x = self.check_input(x)
        n = x.shape[1]
        y = torch.zeros(self.shape[0], n, device=self.device, dtype=torch.float32)
        grid = (len(self.indptr) - 1, triton.cdiv(n, block_n))
        bcsr_spmm_kernel[grid](self.indptr, self.indices, self.blocks, x, y, self.shape[0],
                               self.shape[1], n, R=self.r, C=self.c,
                               RP=triton.next_power_of_2(self.r), CP=triton.next_power_of_2(self.c),
                               BLOCK_N=block_n)
        return y
