"""The SparseKernel protocol: an encoded weight ready to multiply dense inputs, and its registry.

Every CPU kernel computes ``Y = W @ X`` with ``W`` the 2-D view W[outputs, inputs] of a weight
(conv kernels channel-last, as :func:`sparsegrain.patterns.to_matrix`) held in an encoded format,
and ``X`` dense (inputs x batch, row-major). Values are stored as float32 and accumulated in
float32. SpMM kernels walk the batch in tiles of :data:`TILES` columns, each width a compile-time
constant, and keep a register block of output rows x tile columns in vector registers
(:mod:`sparsegrain.kernels.simd`); the batch is zero-padded to a multiple of the smallest tile.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar, TypeVar

import numpy as np
import torch

from .simd import LANES

#: batch tile widths, widest first; the batch is covered by the widest, the rest by the next
TILES = (64, 16)
#: accumulator vectors one register block may hold (half of AVX-512's 32 registers)
ACC_VECTORS = 16


def block_rows(tile: int) -> int:
    """Output rows one register block holds for a batch tile of ``tile`` columns."""
    return max(1, ACC_VECTORS * LANES // tile)


class SparseKernel(ABC):
    """An encoded weight W (rows x cols) that multiplies dense inputs on the CPU."""

    fmt: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def __init__(self, shape: tuple[int, int]) -> None:
        self.shape = (int(shape[0]), int(shape[1]))

    @classmethod
    @abstractmethod
    def from_encoded(cls, enc: Any) -> "SparseKernel":
        """Take the arrays of a :class:`sparsegrain.formats.Encoded` of this kernel's format."""

    @property
    @abstractmethod
    def nnz(self) -> int:
        """Stored entries, padding included (the multiply-adds one product does per column)."""

    @property
    @abstractmethod
    def nbytes(self) -> int:
        """Bytes of encoded arrays one product reads (values, indices, pointers)."""

    @abstractmethod
    def _spmv(self, x: np.ndarray, y: np.ndarray) -> None:
        """y (rows,) = W @ x (cols,), float32, y zero on entry."""

    @abstractmethod
    def _spmm(self, x: np.ndarray, y: np.ndarray, t0: int) -> None:
        """y[:, t0 : t0 + tile] = W @ x for one batch tile: x (cols, tile), tile in TILES."""

    def matmul(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        """``W @ x`` for a dense ``x`` of shape (cols,) or (cols, batch), as float32."""
        x = check_input(x, self.shape[1], f"{self.fmt} weight of shape {self.shape}")
        if x.ndim == 1:
            y = np.zeros(self.shape[0], dtype=np.float32)
            self._spmv(np.ascontiguousarray(x), y)
            return torch.from_numpy(y)
        return torch.from_numpy(self._product(x))

    def linear(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        """``x @ W.T`` for a batch of rows ``x`` (batch, cols), as float32: a Linear layer."""
        if not (isinstance(x, (torch.Tensor, np.ndarray)) and x.ndim == 2):
            raise ValueError(f"linear takes a 2-D (batch, {self.shape[1]}) input")
        x = check_input(x.T, self.shape[1], f"{self.fmt} weight of shape {self.shape}")
        n = x.shape[1]
        if n == 1:
            y = np.zeros(self.shape[0], dtype=np.float32)
            self._spmv(np.ascontiguousarray(x[:, 0]), y)
            return torch.from_numpy(y[None, :])
        return torch.from_numpy(self._product(x).T)

    def _product(self, x: np.ndarray) -> np.ndarray:
        """W @ x for x (cols, n), one batch tile at a time, the widest tiles first. Each tile's
        columns are copied into a contiguous slab: x rows a power of two apart (256 columns =
        1 KiB) would map a tile's slices onto a fraction of the cache sets."""
        n = x.shape[1]
        width = -(-n // TILES[-1]) * TILES[-1]
        y = np.zeros((self.shape[0], width), dtype=np.float32)
        t0 = 0
        for tile in TILES:
            while width - t0 >= tile:
                if t0 == 0 and n == tile and x.flags.c_contiguous:
                    slab = x
                else:
                    slab = np.zeros((x.shape[0], tile), dtype=np.float32)
                    slab[:, : min(tile, n - t0)] = x[:, t0 : t0 + tile]
                self._spmm(slab, y, t0)
                t0 += tile
        return y[:, :n]

    def __matmul__(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        return self.matmul(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, nnz={self.nnz})"


def check_input(x: torch.Tensor | np.ndarray, cols: int, what: str) -> np.ndarray:
    """``x`` as a float32 numpy array of shape (cols,) or (cols, n), or a clear ValueError."""
    if isinstance(x, torch.Tensor):
        if x.is_cuda:
            raise ValueError("CPU kernels take CPU tensors; use sparsegrain.kernels.gpu for CUDA")
        if x.dtype not in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
            raise ValueError(f"input dtype {x.dtype} not supported: use a floating-point tensor")
        x = x.detach().float().numpy()
    elif isinstance(x, np.ndarray):
        if x.dtype.kind != "f":
            raise ValueError(f"input dtype {x.dtype} not supported: use a floating-point array")
        x = x.astype(np.float32, copy=False)
    else:
        raise ValueError(f"input must be a torch.Tensor or numpy array, got {type(x).__name__}")
    if x.ndim not in (1, 2) or x.shape[0] != cols:
        raise ValueError(
            f"input of shape {tuple(x.shape)} does not fit the {what}: expected ({cols},) or "
            f"({cols}, batch)"
        )
    return x


def values32(a: np.ndarray) -> np.ndarray:
    """Stored values as contiguous float32 (the kernels' value type)."""
    return np.ascontiguousarray(a, dtype=np.float32)


def index32(a: np.ndarray) -> np.ndarray:
    """An index array as contiguous int32."""
    return np.ascontiguousarray(a, dtype=np.int32)


KERNELS: dict[str, type[SparseKernel]] = {}

K = TypeVar("K", bound=type[SparseKernel])


def register(fmt: str) -> Callable[[K], K]:
    """Class decorator adding a kernel to :data:`KERNELS` under its format string."""

    def deco(cls: K) -> K:
        cls.fmt = fmt
        KERNELS[fmt] = cls
        return cls

    return deco
