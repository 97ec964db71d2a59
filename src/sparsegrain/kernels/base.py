"""The SparseKernel protocol: an encoded weight ready to multiply dense inputs, and its registry.

Every CPU kernel computes ``Y = W @ X`` with ``W`` the 2-D view W[outputs, inputs] of a weight
(conv kernels channel-last, as :func:`sparsegrain.patterns.to_matrix`) held in an encoded format,
and ``X`` dense (inputs x batch, row-major). Values are stored as float32, as float16 where
the encoding's values are 16-bit, or as 4-bit codes where they are a codebook's, and
accumulated in float32. SpMM kernels walk the batch in tiles of :data:`TILES` columns, each width a compile-time
constant, and keep a register block of output rows x tile columns in vector registers
(:mod:`sparsegrain.kernels.steps`); the batch is zero-padded to a multiple of the smallest tile.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numba as nb
import numpy as np
import torch

from ..core.arrays import require_finite
from ..core.registry import Registry
from ..formats import FORMATS
from ..patterns import Pattern
from .codes import Codes
from .intrinsics import LANES
from .layout import aligned, check_input, stored_values, tile_major, vector_input
from .tuning import ACC_VECTORS, DIRECT_SIZES, TILES

if TYPE_CHECKING:
    from .direct import DirectPlan
    from .panels import Plan


def block_rows(tile: int) -> int:
    """Output rows one register block holds for a batch tile of ``tile`` columns: a row takes
    tile / 16 vectors, or one narrower vector when the tile is under 16 columns."""
    return max(1, ACC_VECTORS * min(tile, LANES) // tile)


#: :func:`block_rows` inside compiled steps (a constant there: the tile width is one)
block_height = nb.njit(inline="always")(block_rows)


@nb.njit(cache=True, fastmath={"reassoc"})
def finish_row(y: np.ndarray, bias: np.ndarray | None) -> float:  # pragma: no cover - compiled
    """Adds ``bias`` (where given) to the vector product ``y`` in place and returns the sum of
    y, which is finite unless a NaN or inf reached it: one pass and one call for both."""
    total = np.float32(0)
    if bias is None:
        for i in range(y.shape[0]):
            total += y[i]
    else:
        for i in range(y.shape[0]):
            y[i] += bias[i]
            total += y[i]
    return total


class SparseKernel(ABC):
    """An encoded weight W (rows x cols) that multiplies dense inputs on the CPU."""

    fmt: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    #: format parameters ``sparsify(format="auto")`` tries on a mask of unknown pattern
    auto_params: ClassVar[tuple[dict[str, Any], ...]] = ({},)
    #: ``spmm(tile, *spmm_params())``: the format's compiled SpMM for batch tiles of ``tile``
    #: columns (and the format's own compile-time sizes), ``(arrays, x, y, t0, bias) -> None``
    #: as :meth:`_spmm` describes. Each format writes it as one
    #: parallel loop over (batch tile, row task) jobs, batch tiles outermost, each set up by
    #: :func:`tile_job`, in a closure over nothing but integers, so numba caches it on disk.
    spmm: ClassVar[Callable[[int], Any]]
    #: the Encoded the kernel was built from, where kept (:func:`sparsegrain.save` writes it)
    encoded: Any = None
    #: width of a stored value, 32, 16 or 4 (:func:`stored_values`)
    value_bits: int = 32
    #: batch tiles run on column panels (:mod:`.panels`), for formats whose rows share no input
    panel_tiles: ClassVar[tuple[int, ...]] = ()
    #: does the SpMM add into y rather than store every output (then y is zeroed first; zeroing
    #: a 1,024 x 1,536 output took 72 us, 3 % of MiniLM's forward at 32 sentences)
    adds_into_output: ClassVar[bool] = False

    def __init__(self, shape: tuple[int, int]) -> None:
        self.shape = (int(shape[0]), int(shape[1]))

    @classmethod
    @abstractmethod
    def from_encoded(cls, enc: Any) -> SparseKernel:
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

    def lists_entries(self) -> bool:
        """Does the format give its entries (:meth:`nonzeros`), as column panels and the direct
        convolution need?"""
        return type(self).nonzeros is not SparseKernel.nonzeros

    def direct(self, kernel_size: tuple[int, int], dilation: tuple[int, int], hp: int, wp: int
               ) -> DirectPlan:
        """The direct convolution's plan for inputs padded to ``hp`` x ``wp`` (the last
        :data:`~.tuning.DIRECT_SIZES` sizes kept), built at the first such input, for a format
        that gives its entries (:meth:`lists_entries`)."""
        from .direct import direct_plan

        plans = self.__dict__.setdefault("_direct", {})
        key = (tuple(kernel_size), tuple(dilation), hp, wp)
        if key not in plans:
            rows, cols, values = self.nonzeros()
            if len(plans) >= DIRECT_SIZES:
                plans.pop(next(iter(plans)))
            plans[key] = direct_plan(np.asarray(rows), np.asarray(cols),
                                     np.asarray(values, np.float32), self.shape, kernel_size,
                                     dilation, hp, wp)
        return plans[key]

    def _spmm(self, x: np.ndarray, y: np.ndarray, t0: int, bias: np.ndarray | None = None
              ) -> None:
        """y[:, t0 + j*tile : t0 + (j+1)*tile] = W @ x[j] + bias for every tile j of x (tiles,
        cols, tile), tile one of TILES; y (rows, n) row-major or the transpose of a row-major
        (n, rows) array, as :meth:`output` gives it (holding the bias already where
        :attr:`adds_into_output`); ``bias`` (rows,) float32 or None."""
        tile = x.shape[2]
        found = self.panels(tile)
        if found is not None:  # panels store every output
            found.multiply(x, y, t0, self._no_bias() if bias is None else bias)
        else:
            stored = None if self.adds_into_output else bias
            self.spmm(tile, *self.spmm_params())(self.arrays(), x, y, t0,
                                                 self._no_bias() if stored is None else stored)

    def _no_bias(self) -> np.ndarray:
        """Zeros in place of a bias, one per output (made once)."""
        zeros = self.__dict__.get("_zeros")
        if zeros is None:
            zeros = self.__dict__["_zeros"] = np.zeros(self.shape[0], np.float32)
        return zeros

    def output(self, n: int, transposed: bool, bias: np.ndarray | None = None) -> np.ndarray:
        """A fresh aligned (rows, n) array, or (n, rows) where ``transposed``, for :meth:`_spmm`
        to write (its ``.T`` then); where the SpMM adds into its output, filled with the bias
        (or zeros) already."""
        shape = (n, self.shape[0]) if transposed else (self.shape[0], n)
        if not self.adds_into_output or bias is None:
            return aligned(shape, zero=self.adds_into_output)
        out = aligned(shape)
        out[...] = bias if transposed else bias[:, None]
        return out

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
        return torch.from_numpy(self.rows_product(x.T))

    def rows_product(self, x: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
        """``x @ W.T (+ bias)`` as a contiguous (n, rows) array for float32 rows ``x`` (n, cols)
        of the right width, checked for nothing else (a Linear layer's eager call, whose checks
        cost more than a small product): one row by the vector product, more by batch tiles
        written in place, the bias added as they are stored; NaN and inf are still found as the
        input is read."""
        if x.shape[0] == 1:
            return self.row_product(x[0], bias)[None, :]
        return self._product(x.T, transposed=True, bias=bias)

    def row_product(self, x: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
        """``W @ x (+ bias)`` for one float32 input row: the vector product, its input checked
        through its output (a NaN or inf in x reaches y wherever a kept weight meets it, and
        only then is x scanned, to say so; x itself is never copied)."""
        y = np.zeros(self.shape[0], dtype=np.float32)
        self._spmv(x if x.flags.c_contiguous else np.ascontiguousarray(x), y)
        if not math.isfinite(finish_row(y, bias)):
            require_finite(x, "input")
        return y

    def _product(self, x: np.ndarray, transposed: bool = False,
                 bias: np.ndarray | None = None) -> np.ndarray:
        """W @ x (+ bias) for x (cols, n), in batch tiles, the widest first, returned as (rows,
        n), or as its transpose (n, rows), contiguous, written so by the kernel itself."""
        n = x.shape[1]
        width = -(-n // TILES[-1]) * TILES[-1]
        out = self.output(width, transposed, bias)
        y = out.T if transposed else out
        t0 = 0
        for tile in TILES:
            t1 = t0 + (width - t0) // tile * tile
            if t1 > t0:
                self._spmm(tile_major(x, t0, t1, tile), y, t0, bias)
            t0 = t1
        return out[:n] if transposed else y[:, :n]

    def __matmul__(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        return self.matmul(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, stored_entries={self.stored_entries})"


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
