"""Convolution as a matrix product: the one im2col that kernels and machine models share.

Patches are laid out channel-last, (kernel row, kernel column, input channel), so that they line
up with the columns of the 2-D weight view W[C_out, Kh*Kw*C_in]
(:func:`sparsegrain.patterns.to_matrix`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

Pair = int | tuple[int, int]


def im2col(x: torch.Tensor, kernel: tuple[int, int], stride: Pair = 1, padding: Pair = 0,
           dilation: Pair = 1) -> torch.Tensor:
    """Patches of ``x`` (N, C_in, H, W) as rows (N * Ho * Wo, Kh * Kw * C_in), channel-last,
    samples outermost and output positions row-major within a sample."""
    if x.dim() != 4:
        raise ValueError(f"im2col takes a 4-D (N, C, H, W) input, got shape {tuple(x.shape)}")
    n, c = x.shape[:2]
    kh, kw = kernel
    cols = F.unfold(x, (kh, kw), dilation=dilation, padding=padding, stride=stride)
    positions = cols.shape[-1]
    return cols.view(n, c, kh * kw, positions).permute(0, 3, 2, 1).reshape(-1, kh * kw * c)
