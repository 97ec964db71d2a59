"""CSP (cascading structured pruning, "weave" layout; Hanson et al., ISCA 2022).

On W[i, o] (inputs x outputs) cut along the outputs into n chunks of C, every input row i keeps
a prefix of L_i whole chunks. Stored: the kept chunks' values in chunk order (chunk 0 of every
input with L_i > 0, then chunk 1 of every input with L_i > 1, ...) and one L_i per input of
ceil(log2(n + 1)) bits; no column indices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..patterns import pattern
from ..patterns.base import Geometry
from .base import Encoded, count_width, register


@register("csp")
@dataclass
class CSPFormat(Encoded):
    """``lengths``: int32[inputs], L_i = kept chunks of input i; ``values``: [cells, C], one row
    per kept (chunk j, input i) cell, ordered by chunk then input (the last chunk padded with
    zeros to C when C does not divide the outputs). Cell offsets per chunk follow from
    ``lengths`` (:meth:`chunk_ptr`)."""

    summary = "CSP weave: values in chunk order + one prefix length L_i per input; no indices"
    positional = ("c",)

    c: int
    lengths: np.ndarray
    values: np.ndarray

    @classmethod
    def for_pattern(cls, geometry: Geometry) -> dict[str, Any] | None:
        return None if geometry.chunk is None else {"c": geometry.chunk}

    @classmethod
    def _encode(
        cls, m: np.ndarray, keep: np.ndarray, base: dict[str, Any], c: int = 8
    ) -> CSPFormat:
        """Chunks of C = 8 outputs; the mask must keep whole chunk prefixes (``csp:C``)."""
        if not isinstance(c, (int, np.integer)) or c < 1:
            raise ValueError(f"csp chunk width c must be a positive integer, got {c!r}")
        rows, cols = m.shape
        n = -(-rows // c)
        ends = np.minimum(np.arange(1, n + 1) * c, rows)  # outputs covered by a prefix of L chunks
        lengths = np.searchsorted(ends, keep.sum(0), "right").astype(np.int32)
        # exact iff the mask is the prefix these lengths describe; the validator says where not
        if not np.array_equal(keep, np.arange(rows)[:, None] < ends[lengths - 1][None, :] * (lengths > 0)):
            why = pattern(f"csp:{c}").violation(torch.from_numpy(keep))
            raise ValueError(f"format csp cannot hold this mask: {why}")
        return cls(
            **base,
            c=int(c),
            lengths=lengths,
            values=np.ascontiguousarray(cls._cells(m, c)[cls._held(lengths, n)]),
        )

    @staticmethod
    def _cells(m: np.ndarray, c: int) -> np.ndarray:
        """W as (chunk j, input i, C) with the last chunk zero-padded."""
        rows, cols = m.shape
        n = -(-rows // c)
        pad = np.zeros((n * c, cols), dtype=m.dtype)
        pad[:rows] = m
        return pad.reshape(n, c, cols).transpose(0, 2, 1)

    @staticmethod
    def _held(lengths: np.ndarray, n: int) -> np.ndarray:
        return np.arange(n)[:, None] < lengths[None, :]

    @property
    def n_chunks(self) -> int:
        return -(-self.matrix_shape[0] // self.c)

    def chunk_ptr(self) -> np.ndarray:
        """int64[n + 1]: chunk j's cells are ``values[chunk_ptr[j]:chunk_ptr[j+1]]``."""
        per = self._held(self.lengths, self.n_chunks).sum(1)
        return np.concatenate([[0], np.cumsum(per)]).astype(np.int64)

    @property
    def nnz(self) -> int:
        rows = self.matrix_shape[0]
        return int(np.minimum(self.lengths.astype(np.int64) * self.c, rows).sum())

    @property
    def padding_entries(self) -> int:
        return self.values.size - self.nnz

    def matrix(self) -> np.ndarray:
        rows, cols = self.matrix_shape
        n = self.n_chunks
        cells = np.zeros((n, cols, self.c), dtype=self.values.dtype)
        cells[self._held(self.lengths, n)] = self.values
        return cells.transpose(0, 2, 1).reshape(n * self.c, cols)[:rows].copy()

    def _bits(self) -> dict[str, int]:
        return {
            "values": self.nnz * self.value_bits,
            "metadata": len(self.lengths) * count_width(self.n_chunks),
            "padding": self.padding_entries * self.value_bits,
        }
