"""A convolution lowered to the matrix product that GEMM-only accelerator models run (as SCALE-Sim
does for dense arrays): W[C_out, Kh*Kw*C_in] (channel-last, :func:`sparsegrain.patterns.to_matrix`)
times the im2col matrix X[Kh*Kw*C_in, output positions] of one input sample."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def im2col(x: torch.Tensor, kernel: tuple[int, ...], stride: int = 1, padding: int = 0
           ) -> torch.Tensor:
    """Columns of one sample ``x`` (C_in, H, W) or (C_in, L) for a kernel of spatial size
    ``kernel`` (Kh, Kw) or (K,): row order (kernel row, kernel column, input channel) as
    ``to_matrix``'s columns, one column per output position."""
    if x.dim() != len(kernel) + 1:
        raise ValueError(f"one sample of shape (C_in, *spatial) is needed for a {len(kernel)}-D "
                         f"kernel, got shape {tuple(x.shape)}")
    if len(kernel) == 1:  # conv1d as conv2d of height one
        x, kernel = x[:, None, :], (1, kernel[0])
        stride2, padding2 = (1, stride), (0, padding)
    else:
        stride2, padding2 = stride, padding
    c = x.shape[0]
    kh, kw = kernel
    cols = F.unfold(x[None], (kh, kw), padding=padding2, stride=stride2)[0]
    # (C*Kh*Kw, P) in (C, Kh, Kw) order -> (Kh, Kw, C) order
    return cols.reshape(c, kh, kw, -1).permute(1, 2, 0, 3).reshape(kh * kw * c, -1)
