"""The SparseKernel protocol: an encoded weight ready to multiply dense inputs, and its registry.

Every CPU kernel computes ``Y = W @ X`` with ``W`` the 2-D view W[outputs, inputs] of a weight
(conv kernels channel-last, as :func:`sparsegrain.patterns.to_matrix`) held in an encoded format,
and ``X`` dense (inputs x batch, row-major). Values are stored as float32, as float16 where
the encoding's values are 16-bit, or as 4-bit codes where they are a codebook's, and
accumulated in float32. SpMM kernels walk the batch in tiles of :data:`TILES` columns, each width a compile-time
constant, and keep a register block of output rows x tile columns in vector registers
(:mod:`sparsegrain.kernels.simd`); the batch is zero-padded to a multiple of the smallest tile.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Callable, ClassVar

import numba as nb
import numpy as np
import torch

from ..core.arrays import as_float32, require_finite
from ..core.registry import Registry
from ..formats import FORMATS
from ..patterns import Pattern
from .codes import Codes
from .simd import LANES, accumulator, vcolumn, wide_vectors

if TYPE_CHECKING:
    from .panels import Plan

#: batch tile widths, widest first; the batch is covered by the widest, the rest by the next
#: (an 8-column tile steps with 256-bit vectors, so a batch of 8 is not padded to 16)
TILES = (64, 16, 8)
#: accumulator vectors one register block may hold (half of AVX-512's 32 registers)
ACC_VECTORS = 16


def block_rows(tile: int) -> int:
    """Output rows one register block holds for a batch tile of ``tile`` columns: a row takes
    tile / 16 vectors, or one narrower vector when the tile is under 16 columns."""
    return max(1, ACC_VECTORS * min(tile, LANES) // tile)


#: :func:`block_rows` inside compiled steps (a constant there: the tile width is one)
block_height = nb.njit(inline="always")(block_rows)


class SparseKernel(ABC):
    """An encoded weight W (rows x cols) that multiplies dense inputs on the CPU."""

    fmt: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    #: format parameters ``sparsify(format="auto")`` tries on a mask of unknown pattern
    auto_params: ClassVar[tuple[dict[str, Any], ...]] = ({},)
    #: ``spmm(tile, *spmm_params())``: the format's compiled SpMM for batch tiles of ``tile``
    #: columns (and the format's own compile-time sizes), ``(arrays, x, y, t0) -> None`` as
    #: :meth:`_spmm` describes. Each format writes it as one
    #: parallel loop over (batch tile, row task) jobs, batch tiles outermost, each set up by
    #: :func:`tile_job`, in a closure over nothing but integers, so numba caches it on disk.
    spmm: ClassVar[Callable[[int], Any]]
    #: the Encoded the kernel was built from, where kept (:func:`sparsegrain.save` writes it)
    encoded: Any = None
    #: width of a stored value, 32, 16 or 4 (:func:`stored_values`)
    value_bits: int = 32
    #: batch tiles run on column panels (:mod:`.panels`), for formats whose rows share no input
    panel_tiles: ClassVar[tuple[int, ...]] = ()

    def __init__(self, shape: tuple[int, int]) -> None:
        self.shape = (int(shape[0]), int(shape[1]))

    @classmethod
    @abstractmethod
    def from_encoded(cls, enc: Any) -> "SparseKernel":
        """Take the arrays of a :class:`sparsegrain.formats.Encoded` of this kernel's format."""

    @property
    @abstractmethod
    def stored_entries(self) -> int:
        """Stored entries, padding included (the multiply-adds one product does per column)."""

    @property
    @abstractmethod
    def nbytes(self) -> int:
        """Bytes of encoded arrays one product reads (values, indices, pointers)."""

    @abstractmethod
    def _spmv(self, x: np.ndarray, y: np.ndarray) -> None:
        """y (rows,) = W @ x (cols,), float32, y zero on entry."""

    @abstractmethod
    def arrays(self) -> tuple:
        """The encoded arrays (and scalars) the compiled steps read, as one tuple."""

    def store_values(self, a: Any, value_bits: int) -> np.ndarray | Codes:
        """``a`` as this kernel's stored values (:func:`stored_values`), their width recorded."""
        stored = stored_values(a, value_bits)
        self.value_bits = value_bits
        return stored

    def spmm_params(self) -> tuple[int, ...]:
        """Sizes of this weight its SpMM is compiled for besides the tile (N:M's M and N, say),
        so that they fold into constants; none by default."""
        return ()

    def nonzeros(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row, column and value (as stored, in float32) of every stored entry, three 1-D arrays
        (for the column panels of :attr:`panel_tiles`)."""
        raise NotImplementedError(f"{self.fmt} kernels run no batch tile on column panels")

    def panels(self, tile: int) -> Plan | None:
        """The column-panel plan of ``tile``-column tiles, built at the first such product; None
        where the format runs such tiles row by row, or where 4-bit codes cannot hold the
        padding's zero."""
        plans = self.__dict__.setdefault("_plans", {})
        if tile not in plans:
            plans[tile] = self._plan(tile) if tile in self.panel_tiles else None
        return plans[tile]

    def _plan(self, tile: int) -> Plan | None:
        from .panels import plan  # panels builds on this module's tile jobs and stored values

        rows, cols, values = self.nonzeros()
        try:
            return plan(self.shape, np.asarray(rows, np.int64), np.asarray(cols, np.int64),
                        np.asarray(values, np.float32), tile, self.value_bits)
        except ValueError:  # 16 nonzero codes and no room for a zero
            return None

    def _spmm(self, x: np.ndarray, y: np.ndarray, t0: int) -> None:
        """y[:, t0 + j*tile : t0 + (j+1)*tile] = W @ x[j] for every tile j of x (tiles, cols, tile),
        tile one of TILES; y (rows, n) zero on entry, row-major or the transpose of a row-major
        (n, rows) array."""
        tile = x.shape[2]
        found = self.panels(tile)
        if found is not None:
            found.multiply(x, y, t0)
        else:
            self.spmm(tile, *self.spmm_params())(self.arrays(), x, y, t0)

    def matmul(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        """``W @ x`` for a dense ``x`` of shape (cols,) or (cols, batch), as float32."""
        x = check_input(x, self.shape[1], f"{self.fmt} weight of shape {self.shape}")
        if x.ndim == 1 or x.shape[1] == 1:  # one column: the vector product, not a padded tile
            y = np.zeros(self.shape[0], dtype=np.float32)
            self._spmv(vector_input(x.reshape(-1)), y)
            return torch.from_numpy(y if x.ndim == 1 else y[:, None])
        return torch.from_numpy(self._product(x))

    def linear(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        """``x @ W.T`` for a batch of rows ``x`` (batch, cols), as contiguous float32: a Linear
        layer. The kernel writes the (batch, rows) output in place (a transposing pass after
        the product took a quarter of its time at 4096 x 4096, 90 %, batch 64)."""
        if not (isinstance(x, (torch.Tensor, np.ndarray)) and x.ndim == 2):
            raise ValueError(f"linear takes a 2-D (batch, {self.shape[1]}) input")
        if x.shape[1] != self.shape[1]:
            raise ValueError(
                f"input of shape {tuple(x.shape)} does not fit the {self.fmt} weight of shape "
                f"{self.shape}: linear expects (batch, {self.shape[1]})"
            )
        x = check_input(x.T, self.shape[1], f"{self.fmt} weight of shape {self.shape}")
        n = x.shape[1]
        if n == 1:
            y = np.zeros(self.shape[0], dtype=np.float32)
            self._spmv(vector_input(x[:, 0]), y)
            return torch.from_numpy(y[None, :])
        return torch.from_numpy(self._product(x, transposed=True))

    def _product(self, x: np.ndarray, transposed: bool = False) -> np.ndarray:
        """W @ x for x (cols, n), in batch tiles, the widest first, returned as (rows, n), or
        as its transpose (n, rows), contiguous, written so by the kernel itself."""
        n = x.shape[1]
        width = -(-n // TILES[-1]) * TILES[-1]
        if transposed:
            out = aligned((width, self.shape[0]), zero=True)
            y = out.T
        else:
            y = out = aligned((self.shape[0], width), zero=True)
        t0 = 0
        for tile in TILES:
            t1 = t0 + (width - t0) // tile * tile
            if t1 > t0:
                self._spmm(tile_major(x, t0, t1, tile), y, t0)
            t0 = t1
        return out[:n] if transposed else y[:, :n]

    def __matmul__(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        return self.matmul(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, stored_entries={self.stored_entries})"


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
    out = aligned(((t1 - t0) // tile, cols, tile), zero=t1 > n)
    if x.T.flags.c_contiguous:  # a Linear input (n, cols) seen through .T
        if gather_rows(x.T, t0, out):
            require_finite(x, "input")
        return out
    require_finite(x[:, t0:t1], "input")
    for j in range(len(out)):
        a, b = t0 + j * tile, min(n, t0 + (j + 1) * tile)
        if b > a:
            out[j, :, : b - a] = x[:, a:b]
    return out


#: bytes a vector step's operands are aligned to (one cache line: a 64-byte load from a
#: 16-byte-aligned numpy array straddles two lines, and the product takes twice as long)
ALIGN = 64


def aligned(shape: tuple[int, ...], zero: bool = False) -> np.ndarray:
    """A C-contiguous float32 array whose data starts on an :data:`ALIGN`-byte boundary."""
    count = int(np.prod(shape))
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
    blocks of 16 columns x 16 rows, each output vector one gather (its 16 source lines stay in
    L1 for the block's 16 columns); returns how many vectors held a NaN or infinity."""
    tiles, cols, tile = out.shape
    blocks = (cols + LANES - 1) // LANES
    bad = 0
    for job in nb.prange(tiles * blocks):
        j, c0 = job // blocks, job % blocks * LANES
        r0 = t0 + j * tile
        count = min(tile, rows.shape[0] - r0)
        for tb in range(0, count, LANES):
            for c in range(c0, min(cols, c0 + LANES)):
                bad += vcolumn(out, (j * cols + c) * tile + tb, rows, (r0 + tb) * cols + c, cols,
                               count - tb)
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


KERNELS: Registry[type[SparseKernel]] = Registry("kernel", attr="fmt")
#: class decorator adding a kernel under the format it multiplies (``@register("csr")``)
register = KERNELS.register


def native_kernels(spec: Pattern) -> list[tuple[str, dict[str, Any]]]:
    """(format, parameters) of every kernel whose format exploits pattern ``spec``'s structure,
    the parameters as that format derives them from the pattern."""
    out = []
    for fmt in KERNELS:
        params = FORMATS.lookup(fmt).for_pattern(spec.geometry)
        if params is not None:
            out.append((fmt, params))
    return out
