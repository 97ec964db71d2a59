"""Direct convolution over a sparse weight, for stride 1: no patches gathered at all.

With stride 1, the input row a kept weight (channel c, tap ky, kx) multiplies for a run of
consecutive output positions is itself a contiguous run of the zero-padded input: output position
q = oy * Wp + ox of a padded grid (Hp x Wp; the columns ox >= Wo are computed and dropped) reads
x_pad[c, q + ky * dh * Wp + kx * dw]. Each kept weight is therefore one offset into the padded
input, and a run of :data:`~.tuning.DIRECT_TILE` outputs of an output channel is a sum of weight x contiguous
input runs: the product reads the input once as it is (padded), where the patch path wrote a
patch matrix of Kh * Kw times the input first. Rows are stepped in groups of :data:`GROUP` (16
FMA chains at a 64-position run), each group's entries padded to its longest row with zero
weights at offset 0. A row's entries go in the weight's column order (tap by tap, each tap's
channels in turn), the order the patch path and a compiled graph's operator sum in, so that CSR
and N:M give the same floats on both paths (ordered by offset instead, a channel's taps together,
256- and 512-channel layers ran 17-30 % slower, interleaved). The padded input is written into a buffer each thread keeps (a fresh
one of a VGG layer's 43 MB cost 14 ms of page faults, over a quarter of the layer's time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np
import torch

from ..core.arrays import as_float32
from .intrinsics import LANES, vstore_lanes, vzero, wide_vectors
from .layout import aligned, scratch
from .steps import accumulator, row_fma
from .tuning import DIRECT_GROUPS, DIRECT_TILE, GROUP

#: floats of one group's partial sums (GROUP rows x DIRECT_TILE positions: 16 vectors)
HELD = GROUP * DIRECT_TILE


@dataclass
class DirectPlan:
    """A weight's entries as offsets into a padded input of ``hp`` x ``wp`` planes: per group
    of GROUP output rows (``rows``, -1 for padding) its steps ``ptr[g]:ptr[g + 1]``, each step
    GROUP offsets and values."""

    hp: int
    wp: int
    ptr: np.ndarray
    rows: np.ndarray
    offsets: np.ndarray
    values: np.ndarray


def direct_plan(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int],
                kernel_size: tuple[int, int], dilation: tuple[int, int], hp: int, wp: int
                ) -> DirectPlan:
    """The plan of a (C_out, Kh*Kw*C_in) channel-last weight given as its entries (zeros left
    out) for inputs padded to ``hp`` x ``wp``."""
    kh, kw = kernel_size
    c_in = shape[1] // (kh * kw)
    keep = values != 0
    rows, cols = rows[keep].astype(np.int64), cols[keep].astype(np.int64)
    values = values[keep].astype(np.float32)
    tap, c = cols // c_in, cols % c_in
    offset = c * hp * wp + (tap // kw) * dilation[0] * wp + (tap % kw) * dilation[1]
    order = np.lexsort((cols, rows))  # each row summed in column order, as the patch path does
    rows, offset, values = rows[order], offset[order], values[order]
    counts = np.bincount(rows, minlength=shape[0])
    groups = -(-shape[0] // GROUP)
    padded = np.zeros(groups * GROUP, np.int64)
    padded[: shape[0]] = counts
    longest = padded.reshape(groups, GROUP).max(1)
    ptr = np.concatenate([[0], np.cumsum(longest)])
    step_offsets = np.zeros((ptr[-1], GROUP), np.int64)
    step_values = np.zeros((ptr[-1], GROUP), np.float32)
    first = np.concatenate([[0], np.cumsum(counts)])
    for r in range(shape[0]):
        g, i = divmod(r, GROUP)
        n = counts[r]
        step_offsets[ptr[g]: ptr[g] + n, i] = offset[first[r]: first[r] + n]
        step_values[ptr[g]: ptr[g] + n, i] = values[first[r]: first[r] + n]
    group_rows = np.arange(groups * GROUP, dtype=np.int64)
    group_rows[group_rows >= shape[0]] = -1
    return DirectPlan(hp, wp, ptr, group_rows, step_offsets.reshape(-1),
                      step_values.reshape(-1))


@nb.njit(parallel=True, fastmath=True, cache=True)
def direct_spmm(ptr, rows, offsets, values, x, image, y, c_out, qpad, ho, wp, wo):  # pragma: no cover
    """y[s, r, oy, ox] (y flat, (samples, c_out, ho, wo) contiguous) = sum over row r's steps
    of value * x[s * image + offset + q] at grid position q = oy * wp + ox, for every sample s
    and output row r, in runs of DIRECT_TILE grid positions; a run's positions in the padded
    grid's extra columns (ox >= wo) or past its last row are computed and not stored."""
    groups = ptr.shape[0] - 1
    chunks = (groups + DIRECT_GROUPS - 1) // DIRECT_GROUPS
    runs = qpad // DIRECT_TILE
    outputs = ho * wo
    samples = y.shape[0] // (c_out * outputs)
    for job in nb.prange(samples * runs * chunks):
        wide_vectors()
        s, rest = job // (runs * chunks), job % (runs * chunks)
        q0, chunk = rest // chunks * DIRECT_TILE, rest % chunks
        base = s * image + q0
        acc = accumulator(HELD)
        for g in range(chunk * DIRECT_GROUPS, min(groups, (chunk + 1) * DIRECT_GROUPS)):
            for a in range(0, HELD, LANES):
                vzero(acc, a)
            for k in range(ptr[g], ptr[g + 1]):
                for i in range(GROUP):
                    row_fma(acc, i, values[k * GROUP + i], x, base + offsets[k * GROUP + i],
                            DIRECT_TILE)
            for i in range(GROUP):
                r = rows[g * GROUP + i]
                if r >= 0:
                    for t in range(0, DIRECT_TILE, LANES):
                        store_run(y, (s * c_out + r) * outputs, acc, i * DIRECT_TILE + t,
                                  q0 + t, ho, wp, wo)


@nb.njit(inline="always")
def store_run(y, plane, acc, at, q, ho, wp, wo):  # pragma: no cover - compiled
    """The 16 sums acc[at : at + 16] of grid positions q.. into the output plane starting at
    flat ``plane`` (rows of wo): lane by lane along the grid's rows, each row's lanes with
    ox < wo as one masked store."""
    oy, ox = q // wp, q % wp
    lane = 0
    while lane < LANES and oy < ho:
        span = min(LANES - lane, wp - ox)
        kept = min(span, max(0, wo - ox))
        if kept > 0:
            vstore_lanes(y, plane + oy * wo + ox - lane, acc, at, lane, lane + kept)
        lane += span
        oy += 1
        ox = 0


def padded(x: torch.Tensor, padding: tuple[int, int], hp: int, wp: int, slack: int
           ) -> torch.Tensor:
    """x (N, C, H, W) zero-padded to hp x wp planes, flat and followed by ``slack`` zeros, in
    this thread's scratch buffer (:func:`~.layout.scratch`: it is read before the call returns)."""
    n, c, h, w = x.shape
    size = n * c * hp * wp
    flat = torch.from_numpy(scratch((size + slack,)))
    planes = flat[:size].view(n, c, hp, wp)
    (ph, pw), (bottom, right) = padding, (hp - padding[0] - h, wp - padding[1] - w)
    for part in (planes[:, :, :ph], planes[:, :, hp - bottom:], planes[:, :, :, :pw],
                 planes[:, :, :, wp - right:], flat[size:]):
        part.zero_()
    planes[:, :, ph: ph + h, pw: pw + w] = x
    return flat


def direct_conv2d(plan: DirectPlan, x: torch.Tensor, c_out: int, padding: tuple[int, int],
                  out_size: tuple[int, int]) -> torch.Tensor:
    """``conv2d(x, W)`` with stride 1 (no bias) for x (N, C_in, H, W) by :func:`direct_spmm`, as
    a contiguous (N, C_out, Ho, Wo) tensor (``out_size`` = (Ho, Wo))."""
    n, c_in = x.shape[:2]
    hp, wp = plan.hp, plan.wp
    ho, wo = out_size
    positions = ho * wp
    qpad = -(-positions // DIRECT_TILE) * DIRECT_TILE
    image = c_in * hp * wp
    # the last run reads past the last plane by its rounding, the widest tap and a vector
    slack = qpad - positions + (wp - wo) + DIRECT_TILE
    xs = as_float32(padded(x, padding, hp, wp, slack), "input", integers=False)
    y = aligned((n * c_out * ho * wo,))
    direct_spmm(plan.ptr, plan.rows, plan.offsets, plan.values, xs, image, y, c_out, qpad, ho,
                wp, wo)
    return torch.from_numpy(y).view(n, c_out, ho, wo)
