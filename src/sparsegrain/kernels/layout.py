"""Array helpers of the CPU kernels, below :mod:`.base`: input checks and tile-major copies,
aligned buffers, the parallel jobs of a batch tile, and how values and column indices are stored.
:mod:`.base` and :mod:`.panels` both build on it."""

from __future__ import annotations

import math
import threading
from typing import Any

import numba as nb
import numpy as np
import torch

from ..core.arrays import as_float32, require_finite
from .codes import Codes
from .intrinsics import LANES, vtranspose, wide_vectors
from .steps import accumulator
from .tuning import ALIGN

#: each thread's scratch buffer (:func:`scratch`)
_SCRATCH = threading.local()


def check_input(x: torch.Tensor | np.ndarray, cols: int, what: str) -> np.ndarray:
    """``x`` as a float32 numpy array of shape (cols,) or (cols, n), or a clear ValueError; its
    values are checked finite as they are read (:func:`vector_input`, :func:`tile_major`)."""
    x = as_float32(x, "input", integers=False, finite=False)
    if x.ndim not in (1, 2) or x.shape[0] != cols:
        raise ValueError(
            f"input of shape {tuple(x.shape)} does not fit the {what}: expected ({cols},) or "
            f"({cols}, batch)"
        )
    return x


def vector_input(x: np.ndarray) -> np.ndarray:
    """A vector product's input, contiguous, checked finite."""
    require_finite(x, "input")
    return np.ascontiguousarray(x)


def tile_major(x: np.ndarray, t0: int, t1: int, tile: int) -> np.ndarray:
    """Columns t0..t1 of x (cols, n), zero past n, as contiguous (tiles, cols, tile), or a clear
    ValueError where they hold NaN or inf (the transposing copy of a Linear input finds them as
    it copies, where a separate pass over x took 5 % of a 4096 x 4096, 90 % layer's time): a
    tile's x rows are then adjacent (rows of a 256-column x lie 1 KiB apart, and their 64-column
    slices would share a quarter of the cache sets)."""
    cols, n = x.shape
    if (t0, t1) == (0, n) and n == tile and x.flags.c_contiguous and x.ctypes.data % ALIGN == 0:
        require_finite(x, "input")
        return x.reshape(1, cols, tile)  # already one aligned tile: no copy
    shape = ((t1 - t0) // tile, cols, tile)
    if x.T.flags.c_contiguous:  # a Linear input (n, cols) seen through .T
        out = scratch(shape)
        if gather_rows(x.T, t0, out):
            require_finite(x, "input")
        return out
    out = aligned(shape, zero=t1 > n)
    require_finite(x[:, t0:t1], "input")
    for j in range(len(out)):
        a, b = t0 + j * tile, min(n, t0 + (j + 1) * tile)
        if b > a:
            out[j, :, : b - a] = x[:, a:b]
    return out


def scratch(shape: tuple[int, ...]) -> np.ndarray:
    """An aligned float32 array of ``shape`` in this thread's scratch buffer, its contents left
    as they were: the buffer is grown as needed and kept, so that an operand copied, used and
    dropped within one call costs no fresh pages (an 8 MB array written fresh page-faults on
    every call). Valid until the next call in the same thread."""
    count = math.prod(shape)
    buf = getattr(_SCRATCH, "buf", None)
    if buf is None or buf.size < count:
        buf = _SCRATCH.buf = aligned((count,))
    return buf[:count].reshape(shape)


def aligned(shape: tuple[int, ...], zero: bool = False) -> np.ndarray:
    """A C-contiguous float32 array whose data starts on an :data:`ALIGN`-byte boundary: torch's
    CPU allocator gives 64-byte-aligned blocks in 2-3 us, where over-allocating a numpy array and
    asking its address took 10 us (the fallback, should an allocation come back unaligned)."""
    t = (torch.zeros if zero else torch.empty)(shape, dtype=torch.float32)
    if t.data_ptr() % ALIGN == 0:
        return t.numpy()
    count = math.prod(shape)
    raw = (np.zeros if zero else np.empty)(count + ALIGN // 4, dtype=np.float32)
    skip = (-raw.ctypes.data % ALIGN) // 4
    return raw[skip : skip + count].reshape(shape)


@nb.njit(inline="always")
def tile_job(
    job: int, tasks: int, tb: int, tile: int, size: int, x: Any
) -> tuple[int, int, int, Any]:  # pragma: no cover - compiled
    """Set up SpMM job ``job`` (batch tiles outermost, ``tasks`` row tasks per tile): its row
    task, its first output column, the flat row offset of its tile in x (tiles, cols, tile) and
    a register block of ``size`` floats (a constant); the function compiled may use 512-bit
    vectors."""
    wide_vectors()
    jt = job // tasks
    return job % tasks, tb + jt * tile, jt * x.shape[1], accumulator(size)


@nb.njit(inline="always")
def spread_stride(n: int) -> int:  # pragma: no cover - compiled
    """An odd stride near 0.618 n with no factor in common with n (1 for n <= 2)."""
    p = max(1, int(n * 0.618)) | 1
    a, b = p, n
    while b:
        a, b = b, a % b
    while a != 1:  # not coprime: try the next odd stride
        p += 2
        a, b = p, n
        while b:
            a, b = b, a % b
    return p


@nb.njit(inline="always")
def spread(i: int, n: int, stride: int) -> int:  # pragma: no cover - compiled
    """Task (i * stride) mod n for job i of n (``stride`` from :func:`spread_stride`): every task
    once, consecutive jobs far apart, so that the contiguous share of jobs numba's parallel loop
    gives each thread samples the tasks evenly where their work is not (CSP's first chunks hold
    every input's cells, its last ones few or none)."""
    return (i * stride) % n


@nb.njit(parallel=True, cache=True)
def gather_rows(rows, t0, out):  # pragma: no cover - compiled
    """out[j, c, t] = rows[t0 + j*tile + t, c] for rows inside ``rows`` (n, cols): a transpose in
    blocks of 16 rows x 16 columns, each transposed in registers (:func:`vtranspose`), zero past
    the last row; returns how many blocks held a NaN or infinity."""
    wide_vectors()
    tiles, cols, tile = out.shape
    blocks = (cols + LANES - 1) // LANES
    bad = 0
    for job in nb.prange(tiles * blocks):
        j, c0 = job // blocks, job % blocks * LANES
        r0 = t0 + j * tile
        count = min(tile, rows.shape[0] - r0)
        for tb in range(0, tile, LANES):
            bad += vtranspose(out, (j * cols + c0) * tile + tb, tile, rows, (r0 + tb) * cols + c0,
                              cols, count - tb, cols - c0, tile - tb)
    return bad


#: widths a kernel stores its values in: float32, float16 widened to float32 as it is read, or
#: 4-bit codes into a 16-entry codebook (:class:`~sparsegrain.kernels.codes.Codes`)
VALUE_BITS = (32, 16, 4)
_HALF_MAX = float(np.finfo(np.float16).max)


def check_value_bits(value_bits: Any) -> None:
    """A clear error unless ``value_bits`` is a width the kernels store values in."""
    if value_bits not in VALUE_BITS:
        raise ValueError(f"value_bits must be one of {', '.join(map(str, VALUE_BITS))}, got "
                         f"{value_bits!r}")


def stored_values(a: np.ndarray, value_bits: int = 32) -> np.ndarray | Codes:
    """Stored values as the kernels read them: contiguous float32; for ``value_bits=16`` the
    float16 rounding of each held as its raw uint16 bits (numba has no float16 arrays); for
    ``value_bits=4`` codes into the values' own codebook (at most 16 distinct values). Products
    accumulate in float32 either way; narrower values cut the bytes a product reads."""
    check_value_bits(value_bits)
    a = np.ascontiguousarray(a, dtype=np.float32)
    if value_bits == 32:
        return a
    if value_bits == 4:
        return Codes(a)
    if a.size and not np.abs(a).max() <= _HALF_MAX:
        raise ValueError(f"values exceed float16's range (|v| <= {_HALF_MAX:g}, finite): store "
                         "them with value_bits=32")
    return a.astype(np.float16).view(np.uint16)


def float_values(a: np.ndarray | Codes) -> np.ndarray:
    """A kernel's stored values as a float array (float16 bits viewed as float16, codes
    looked up)."""
    if isinstance(a, Codes):
        return a.decode()
    return a.view(np.float16) if a.dtype == np.uint16 else a


def kernel_value_bits(enc: Any) -> int:
    """The width a kernel built from ``enc`` stores values in: 16 when the encoding's values are
    16-bit, 4 when they are codes of at most 4 bits (a codebook's index), else 32."""
    return 16 if enc.value_bits == 16 else 4 if enc.value_bits <= 4 else 32


def index32(a: np.ndarray) -> np.ndarray:
    """An index array as contiguous int32."""
    return np.ascontiguousarray(a, dtype=np.int32)


def column_index(a: np.ndarray, cols: int) -> np.ndarray:
    """Column indices below ``cols`` as the narrowest unsigned type that holds them: 16 bits up to
    65,536 columns (a third less to read per kept weight than int32 beside float32 values), and
    unsigned, so a compiled gather needs no negative-index test."""
    a = np.asarray(a)
    if a.size and (int(a.min()) < 0 or int(a.max()) >= cols):
        raise ValueError(f"column indices must lie in 0..{cols - 1}")
    return np.ascontiguousarray(a, dtype=np.uint16 if cols <= 1 << 16 else np.uint32)

