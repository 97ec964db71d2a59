"""Convolution over a sparse weight: patches (channel-last) times the encoded matrix, or, with
stride 1, the direct product on the padded input (:mod:`.direct`).

The encoded matrix is the 2-D view C_out x (Kh*Kw*C_in) of :func:`sparsegrain.patterns.to_matrix`.
Called directly (eager code), the patches are never materialised whole: a few batch tiles of them
at a time are gathered from x straight into the tile-major layout the SpMM reads, and multiplied
while they are still cached. Unfolding first (``F.unfold``, a channel-last copy, then the tile-major
copy) wrote the patch matrix three times, nine times the input for a 3 x 3 kernel: at 90 %
sparsity the product itself was the small part. Where a graph is recorded (``product`` given:
the custom operator) the patches come from the shared :func:`~sparsegrain.core.lowering.im2col`.
"""

from __future__ import annotations

from collections.abc import Callable

import numba as nb
import numpy as np
import torch

from ..core.arrays import as_float32
from ..core.lowering import im2col
from .base import TILES, SparseKernel
from .direct import direct_conv2d
from .layout import scratch
from .tuning import PATCH_BYTES

Pair = tuple[int, int]


def conv2d(
    kernel: SparseKernel,
    x: torch.Tensor,
    kernel_size: Pair,
    stride: Pair = (1, 1),
    padding: Pair = (0, 0),
    dilation: Pair = (1, 1),
    product: Callable[[torch.Tensor], torch.Tensor] | None = None,
    direct: bool = True,
) -> torch.Tensor:
    """``conv2d(x, W)`` (no bias, groups = 1) for x (N, C_in, H, W) as float32; ``product`` (the
    operator, where a graph is recorded) multiplies unfolded patches by W.T; else a stride-1
    convolution runs directly on the padded input (:mod:`.direct`, for the formats that give
    their entries, unless ``direct`` is False) and any other gathers its patches tile by tile
    (:func:`patch_product`), laid out channels-last."""
    if x.dim() != 4:
        raise ValueError(f"conv2d takes a 4-D (N, C, H, W) input, got shape {tuple(x.shape)}")
    n, c_in, h, w = x.shape
    kh, kw = kernel_size
    if kernel.shape[1] != kh * kw * c_in:
        raise ValueError(
            f"input has {c_in} channels but the {kernel.fmt} weight expects "
            f"{kernel.shape[1] // (kh * kw)} (matrix {kernel.shape}, kernel {kh}x{kw})"
        )
    ho = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    if product is None:
        if direct and takes_direct(kernel, stride):
            plan = kernel.direct(kernel_size, dilation, h + 2 * padding[0], w + 2 * padding[1])
            return direct_conv2d(plan, x, kernel.shape[0], padding, (ho, wo))
        out = patch_product(kernel, x, kernel_size, stride, padding, dilation, (ho, wo))
    else:
        out = product(im2col(x.float(), (kh, kw), stride, padding, dilation))
    return out.view(n, ho, wo, kernel.shape[0]).permute(0, 3, 1, 2)


def takes_direct(kernel: SparseKernel, stride: tuple[int, ...]) -> bool:
    """Can a convolution of this stride over ``kernel`` run directly on the padded input
    (stride 1, a format that gives its entries)?"""
    return all(s == 1 for s in stride) and kernel.lists_entries()


def patch_product(kernel: SparseKernel, x: torch.Tensor, kernel_size: Pair, stride: Pair,
                  padding: Pair, dilation: Pair, out_size: Pair) -> torch.Tensor:
    """The (N * Ho * Wo, C_out) products of every output position's patch with W, the patches
    gathered from x a few batch tiles at a time (:data:`PATCH_BYTES` of them) into a reused
    buffer; x checked finite once, not each of its copies."""
    xs = as_float32(x.contiguous(), "input", integers=False)
    positions = x.shape[0] * out_size[0] * out_size[1]
    tile = next((t for t in reversed(TILES) if t >= positions), TILES[0])
    tiles = -(-positions // tile)
    out = kernel.output(tiles * tile, transposed=True)
    step = max(1, PATCH_BYTES // (kernel.shape[1] * tile * 4))
    buf = scratch((min(step, tiles), kernel.shape[1], tile))
    for j0 in range(0, tiles, step):
        part = buf[: min(tiles, j0 + step) - j0]
        gather_patches(xs, kernel_size[0], kernel_size[1], stride[0], stride[1], padding[0],
                       padding[1], dilation[0], dilation[1], out_size[1], j0 * tile, part)
        kernel._spmm(part, out.T, j0 * tile)
    return torch.from_numpy(out[:positions])


@nb.njit(parallel=True, cache=True)
def gather_patches(x, kh, kw, sh, sw, ph, pw, dh, dw, wo, p0, out):  # pragma: no cover - compiled
    """out[j, (ky * kw + kx) * C + c, t] = x[s, c, iy, ix] for output position p0 + j * tile + t
    (sample s, row oy, column ox; iy = oy * sh - ph + ky * dh, ix likewise), zero where the tap
    falls in the padding or past the last position; one job per (tile, tap), a channel's tile
    written as one contiguous run."""
    tiles, _, tile = out.shape
    samples, channels, h, w = x.shape
    per_sample = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    total = samples * per_sample * wo
    taps = kh * kw
    flat = x.reshape(-1)
    for job in nb.prange(tiles * taps):
        j, q = job // taps, job % taps
        ky, kx = q // kw, q % kw
        at = np.empty(tile, np.int64)  # x's flat offset of each position's tap, -1: a zero
        for t in range(tile):
            p = p0 + j * tile + t
            at[t] = -1
            if p < total:
                s = p // (per_sample * wo)
                r = p - s * per_sample * wo
                oy = r // wo
                iy = oy * sh - ph + ky * dh
                ix = (r - oy * wo) * sw - pw + kx * dw
                if 0 <= iy < h and 0 <= ix < w:
                    at[t] = (s * channels * h + iy) * w + ix
        for c in range(channels):
            row = out[j, q * channels + c]
            shift = c * h * w
            for t in range(tile):
                row[t] = flat[at[t] + shift] if at[t] >= 0 else np.float32(0.0)
