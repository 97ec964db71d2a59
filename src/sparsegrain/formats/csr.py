"""Compressed sparse row and column (CSR, CSC): a pointer per major line, an index per kept weight.

Arrays are those of ``scipy.sparse.csr_matrix`` / ``csc_matrix`` on the same matrix: ``indptr``
(int64, major lines + 1), ``indices`` (int32, minor index of each kept weight, ascending within a
line) and ``data`` (values, the weight's dtype).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..patterns.base import Geometry
from .base import Encoded, register, row_pointers

DEFAULT_POINTER_BITS = 32


@dataclass
class Compressed(Encoded):
    """CSR (axis 0: rows are the major lines) or CSC (axis 1: columns are)."""

    axis: ClassVar[int] = 0

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    index_bits: int
    pointer_bits: int

    @classmethod
    def _encode(
        cls, m: np.ndarray, keep: np.ndarray, base: dict[str, Any], index_bits: int | None = None,
        pointer_bits: int = DEFAULT_POINTER_BITS
    ) -> Compressed:
        """``index_bits`` defaults to ceil(log2(minor extent)); pointers are 32-bit."""
        if cls.axis == 1:
            m, keep = m.T, np.ascontiguousarray(keep.T)
        major, minor = np.nonzero(keep)
        indptr, index_bits = row_pointers(major, m.shape[0], m.shape[1], index_bits,
                                          pointer_bits, "entry")
        return cls(
            **base,
            indptr=indptr,
            indices=minor.astype(np.int32),
            data=np.ascontiguousarray(m[major, minor]),
            index_bits=int(index_bits),
            pointer_bits=int(pointer_bits),
        )

    @property
    def nnz(self) -> int:
        return len(self.indices)

    def matrix(self) -> np.ndarray:
        rows, cols = self.matrix_shape
        major_n = cols if self.axis else rows
        major = np.repeat(np.arange(major_n), np.diff(self.indptr))
        out = np.zeros((rows, cols), dtype=self.data.dtype)
        if self.axis:
            out[self.indices, major] = self.data
        else:
            out[major, self.indices] = self.data
        return out

    def _bits(self) -> dict[str, int]:
        return {
            "values": self.nnz * self.value_bits,
            "indices": self.nnz * self.index_bits,
            "pointers": len(self.indptr) * self.pointer_bits,
        }


@register("csr")
@dataclass
class CSR(Compressed):
    """Compressed sparse row: ``indptr`` per row, column ``indices``, ``data``."""

    summary: ClassVar[str] = "compressed sparse row: a pointer per row, a column index per value"
    axis: ClassVar[int] = 0

    @classmethod
    def for_pattern(cls, geometry: Geometry) -> dict[str, Any] | None:
        return {} if geometry.kind == "unstructured" else None


@register("csc")
@dataclass
class CSC(Compressed):
    """Compressed sparse column: ``indptr`` per column, row ``indices``, ``data``."""

    summary: ClassVar[str] = "compressed sparse column: a pointer per column, a row index per value"
    axis: ClassVar[int] = 1
