"""Bitmap: one bit per position plus the kept values; SparTen-style chunk pointers.

SparTen (Gondimalla et al., MICRO 2019) stores a 128-bit mask per chunk with a pointer to the
chunk's values; ``chunk`` = 0 drops the pointers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import Encoded, check_width, count_width, register

SPARTEN_CHUNK = 128


@register("bitmap")
@dataclass
class Bitmap(Encoded):
    """``bitmap``: uint8, the kept-flags of the row-major positions packed 8 per byte
    (``np.packbits(..., bitorder="little")``); ``values``: kept values in row-major order;
    ``chunk_ptr``: int64[n_chunks + 1], offset in ``values`` of each ``chunk``-position chunk
    (empty when ``chunk`` = 0)."""

    summary = "one bit per position + kept values; a pointer per 128-position chunk (SparTen)"
    positional = ("chunk",)

    bitmap: np.ndarray
    values: np.ndarray
    chunk_ptr: np.ndarray
    chunk: int
    pointer_bits: int

    @classmethod
    def _encode(
        cls, m: np.ndarray, keep: np.ndarray, base: dict[str, Any], chunk: int = SPARTEN_CHUNK,
        pointer_bits: int = 32
    ) -> Bitmap:
        """128-position chunks with 32-bit pointers by default."""
        if not isinstance(chunk, (int, np.integer)) or chunk < 0:
            raise ValueError(f"chunk must be a non-negative integer (0: no pointers), got {chunk!r}")
        flat = keep.reshape(-1)
        values = np.ascontiguousarray(m.reshape(-1)[flat])
        if chunk:
            starts = np.concatenate([[0], np.cumsum(flat)])
            ends = np.minimum(np.arange(0, flat.size + chunk, chunk), flat.size)
            chunk_ptr = starts[ends].astype(np.int64)
            check_width("pointer_bits", pointer_bits, count_width(len(values)), f"{len(values)} values")
        else:
            chunk_ptr = np.zeros(0, dtype=np.int64)
        return cls(
            **base,
            bitmap=np.packbits(flat, bitorder="little"),
            values=values,
            chunk_ptr=chunk_ptr,
            chunk=int(chunk),
            pointer_bits=int(pointer_bits),
        )

    def kept(self) -> np.ndarray:
        """The kept-flags as a bool array of the 2-D view."""
        rows, cols = self.matrix_shape
        bits = np.unpackbits(self.bitmap, count=rows * cols, bitorder="little")
        return bits.astype(bool).reshape(rows, cols)

    @property
    def nnz(self) -> int:
        return len(self.values)

    def matrix(self) -> np.ndarray:
        out = np.zeros(self.matrix_shape, dtype=self.values.dtype)
        out[self.kept()] = self.values
        return out

    def _bits(self) -> dict[str, int]:
        rows, cols = self.matrix_shape
        n_chunks = max(len(self.chunk_ptr) - 1, 0)
        return {
            "values": self.nnz * self.value_bits,
            "metadata": rows * cols,
            "pointers": n_chunks * self.pointer_bits,
        }
