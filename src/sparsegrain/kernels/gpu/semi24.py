"""The 2:4 GPU baseline: torch's semi-structured sparse tensor (cuSPARSELt / CUTLASS), not ours."""

from __future__ import annotations

import torch


def semi_structured_linear(weight: torch.Tensor) -> torch.Tensor:
    """A 2:4-pruned fp16/bf16 CUDA weight as torch's semi-structured tensor (use in F.linear)."""
    if not torch.cuda.is_available():
        raise ValueError("the 2:4 semi-structured baseline needs a CUDA GPU and none is available")
    if weight.dtype not in (torch.float16, torch.bfloat16):
        raise ValueError(f"2:4 semi-structured weights must be fp16 or bf16, got {weight.dtype}")
    from torch.sparse import to_sparse_semi_structured

    return to_sparse_semi_structured(weight.cuda())
