"""Triton GS SpMM: one program per row group and batch block; a pack is one B-lane gather + FMA."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..gs import GSKernel
from .base import GPUKernel


@triton.jit
def gs_spmm_kernel(values, columns, pack_ptr, row_ids, x, y, rows, n,
                   B: tl.constexpr, E: tl.constexpr, R: tl.constexpr, BLOCK_N: tl.constexpr):
    g = tl.program_id(0)
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    in_n = offs_n < n
    lanes = tl.arange(0, B)
    acc = tl.zeros((B, BLOCK_N), dtype=tl.float32)
    for p in range(tl.load(pack_ptr + g), tl.load(pack_ptr + g + 1)):
        v = tl.load(values + p * B + lanes).to(tl.float32)
        c = tl.load(columns + p * B + lanes).to(tl.int32) & 0xFFFF  # 16-bit columns, unsigned
        xg = tl.load(x + c[:, None] * n + offs_n[None, :], mask=in_n[None, :], other=0.0)
        acc += v[:, None] * xg.to(tl.float32)
    out = tl.sum(tl.reshape(acc, (R, E, BLOCK_N)), axis=1)  # lanes of a row slot: segmented sum
    r = tl.load(row_ids + g * R + tl.arange(0, R))
    keep = (r[:, None] >= 0) & (r[:, None] < rows) & in_n[None, :]
    tl.store(y + r[:, None] * n + offs_n[None, :], out, mask=keep)


class GSGPU(GPUKernel):
    """GS packs on the Triton device: values fp16/bf16, 16-bit columns, int32 row ids."""

    fmt = "gs"

    def __init__(self, cpu: GSKernel, dtype: torch.dtype = torch.float16) -> None:
        super().__init__(cpu, dtype)
        b = cpu.values.shape[1]
        if b & (b - 1):
            raise ValueError(f"the Triton GS kernel needs B a power of two, got B = {b}")
        self.b, self.e = b, cpu.e
        self.values = self.to_device(cpu.values, dtype)
        self.columns = self.to_device(cpu.columns.view("int16"))
        self.pack_ptr = self.to_device(cpu.group_ptr)
        self.row_ids = self.to_device(cpu.row_ids)

    def matmul(self, x: torch.Tensor, block_n: int = 64) -> torch.Tensor:
        """``W @ x`` for x (cols, batch); float32 result (rows, batch)."""
        x = self.check_input(x)
        n = x.shape[1]
        y = torch.zeros(self.shape[0], n, device=self.device, dtype=torch.float32)
        grid = (len(self.pack_ptr) - 1, triton.cdiv(n, block_n))
        gs_spmm_kernel[grid](self.values, self.columns, self.pack_ptr, self.row_ids, x, y,
                             self.shape[0], n, B=self.b, E=self.e, R=self.b // self.e,
                             BLOCK_N=block_n)
        return y
