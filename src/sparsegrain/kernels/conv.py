"""Convolution over a sparse weight by im2col: patches (channel-last) times the encoded matrix.

The encoded matrix is the 2-D view C_out x (Kh*Kw*C_in) of :func:`sparsegrain.patterns.to_matrix`,
so the patches come channel-last from the shared :func:`~sparsegrain.core.lowering.im2col`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..core.lowering import im2col
from .base import SparseKernel


def conv2d(
    kernel: SparseKernel,
    x: torch.Tensor,
    kernel_size: tuple[int, int],
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
    product: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """``conv2d(x, W)`` (no bias, groups = 1) for x (N, C_in, H, W) as float32; ``product``
    multiplies the patches by W.T (default ``kernel.linear``; layers pass the operator)."""
    if x.dim() != 4:
        raise ValueError(f"conv2d takes a 4-D (N, C, H, W) input, got shape {tuple(x.shape)}")
    n, c_in, h, w = x.shape
    kh, kw = kernel_size
    if kernel.shape[1] != kh * kw * c_in:
        raise ValueError(
            f"input has {c_in} channels but the {kernel.fmt} weight expects "
            f"{kernel.shape[1] // (kh * kw)} (matrix {kernel.shape}, kernel {kh}x{kw})"
        )
    patches = im2col(x.float(), (kh, kw), stride, padding, dilation)
    out = (product or kernel.linear)(patches)  # (n * positions, C_out)
    ho = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    return out.view(n, ho, wo, kernel.shape[0]).permute(0, 3, 1, 2)
