"""Coordinate list: a (row, column) pair per kept weight, in row-major order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import Encoded, check_width, index_width, register


@register("coo")
@dataclass
class COO(Encoded):
    """``row``, ``col`` (int32 per kept weight, row-major order) and ``data`` (values)."""

    summary = "coordinate list: a row and a column index per value"

    row: np.ndarray
    col: np.ndarray
    data: np.ndarray
    row_bits: int
    col_bits: int

    @classmethod
    def _encode(
        cls, m: np.ndarray, keep: np.ndarray, base: dict[str, Any], row_bits: int | None = None,
        col_bits: int | None = None
    ) -> COO:
        """Index widths default to ceil(log2(rows)) and ceil(log2(cols))."""
        r, c = np.nonzero(keep)
        widths = []
        for name, bits, n in (("row_bits", row_bits, m.shape[0]), ("col_bits", col_bits, m.shape[1])):
            need = index_width(n)
            check_width(name, need if bits is None else bits, need, f"an index below {n}")
            widths.append(need if bits is None else int(bits))
        return cls(
            **base,
            row=r.astype(np.int32),
            col=c.astype(np.int32),
            data=np.ascontiguousarray(m[r, c]),
            row_bits=widths[0],
            col_bits=widths[1],
        )

    @property
    def nnz(self) -> int:
        return len(self.data)

    def matrix(self) -> np.ndarray:
        out = np.zeros(self.matrix_shape, dtype=self.data.dtype)
        out[self.row, self.col] = self.data
        return out

    def _bits(self) -> dict[str, int]:
        return {
            "values": self.nnz * self.value_bits,
            "indices": self.nnz * (self.row_bits + self.col_bits),
        }
