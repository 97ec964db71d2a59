"""The SparseKernel protocol: an encoded weight ready to multiply dense inputs, and its registry.

Every CPU kernel computes ``Y = W @ X`` with ``W`` the 2-D view W[outputs, inputs] of a weight
(conv kernels channel-last, as :func:`sparsegrain.patterns.to_matrix`) held in an encoded format,
and ``X`` dense (inputs x batch). Values are stored as float32 and accumulated in float32.
SpMM kernels work on batch tiles of :data:`TILES` columns laid out tile-major (tiles, cols, tile),
each width a compile-time trip count so that LLVM keeps the accumulator tile in vector registers
(4 AVX-512 registers for 64 columns hide the FMA latency); the batch is zero-padded to a multiple
of the smallest tile.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar, TypeVar

import numpy as np
import torch

#: batch tile widths, widest first; the batch is covered by the widest, the rest by the next
TILES = (64, 16)


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
    def _spmm(self, x: np.ndarray, y: np.ndarray) -> None:
        """y[j] = W @ x[j] for every tile j: x (tiles, cols, tile), y (tiles, rows, tile), zero."""

    def matmul(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        """``W @ x`` for a dense ``x`` of shape (cols,) or (cols, batch), as float32."""
        x = check_input(x, self.shape[1], f"{self.fmt} weight of shape {self.shape}")
        if x.ndim == 1:
            y = np.zeros(self.shape[0], dtype=np.float32)
            self._spmv(x, y)
            return torch.from_numpy(y)
        return self.linear(x.T).T

    def linear(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        """``x @ W.T`` for a batch of rows ``x`` (batch, cols), as float32: a Linear layer."""
        if isinstance(x, (torch.Tensor, np.ndarray)) and x.ndim == 2:
            x = check_input(x.T, self.shape[1], f"{self.fmt} weight of shape {self.shape}").T
        else:
            raise ValueError(f"linear takes a 2-D (batch, {self.shape[1]}) input")
        n, (rows, cols) = x.shape[0], self.shape
        if n == 1:
            y = np.zeros(rows, dtype=np.float32)
            self._spmv(np.ascontiguousarray(x[0]), y)
            return torch.from_numpy(y[None, :])
        step = TILES[-1]
        padded = -(-n // step) * step
        if padded != n:
            x = np.concatenate([x, np.zeros((padded - n, cols), np.float32)])
        out = np.empty((padded, rows), dtype=np.float32)
        b0 = 0
        for tile in TILES:
            b1 = b0 + (padded - b0) // tile * tile
            if b1 > b0:
                tiles = (b1 - b0) // tile
                xt = np.ascontiguousarray(x[b0:b1].reshape(tiles, tile, cols).transpose(0, 2, 1))
                yt = np.zeros((tiles, rows, tile), dtype=np.float32)
                self._spmm(xt, yt)
                out[b0:b1] = yt.transpose(0, 2, 1).reshape(b1 - b0, rows)
            b0 = b1
        return torch.from_numpy(out[:n])

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
    return np.ascontiguousarray(x)


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


def by_tile(make: Callable[[int], Callable[..., None]]) -> dict[int, Callable[..., None]]:
    """One compiled SpMM per batch tile width in :data:`TILES` (the width is a constant in each)."""
    return {tile: make(tile) for tile in TILES}
