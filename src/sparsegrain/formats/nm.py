"""N:M: per group of M consecutive inputs of a row, N values and N in-group indices (log2 M bits).

The 2:4 layout of NVIDIA sparse tensor cores (Mishra et al., arXiv 2104.08378): 2 values and two
2-bit indices per 4 inputs. A group keeping fewer than N stores padding slots (value 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..patterns import pattern
from ..patterns.base import Geometry
from .base import Encoded, index_width, register


@register("nm")
@dataclass
class NMFormat(Encoded):
    """``values``: [rows, cols / M * N], the N slots of every group in group order;
    ``indices``: uint8 of the same shape, each slot's position inside its group (0..M-1): kept
    positions ascending, then padding slots (value 0) on unkept positions ascending."""

    summary = "N:M: N values + N log2(M)-bit indices per M inputs (2:4 by default)"
    positional = ("n", "m")

    n: int
    m: int
    values: np.ndarray
    indices: np.ndarray
    n_kept: int

    @classmethod
    def for_pattern(cls, geometry: Geometry) -> dict[str, Any] | None:
        return None if geometry.nm is None else {"n": geometry.nm[0], "m": geometry.nm[1]}

    @classmethod
    def _encode(cls, mat: np.ndarray, keep: np.ndarray, base: dict[str, Any], n: int = 2,
                m: int = 4) -> NMFormat:
        """2:4 by default; the mask must obey ``nm:N:M`` (at most N kept per group)."""
        spec = pattern(f"nm:{n}:{m}")
        rows, cols = mat.shape
        groups = keep.reshape(rows, -1, m) if cols % m == 0 else None
        count = None if groups is None else groups.sum(2, dtype=np.int64)
        if groups is None or count is None or count.max(initial=0) > n:
            raise ValueError(f"format nm cannot hold this mask: {spec.violation(torch.from_numpy(keep))}")
        g_n = cols // m
        order = np.empty((rows * g_n, n), dtype=np.uint8)
        vals = np.zeros((rows * g_n, n), dtype=mat.dtype)
        # kept weights: slot = rank inside the group (row-major nonzero walks groups in order)
        r, c = np.nonzero(keep)
        group = r * g_n + c // m
        first = np.concatenate([[0], np.cumsum(count.reshape(-1))])
        slot = np.arange(len(group)) - first[group]
        order[group, slot] = c % m
        vals[group, slot] = mat[r, c]
        # groups keeping fewer than N: padding slots on their first unkept positions
        short = np.nonzero(count.reshape(-1) < n)[0]
        if len(short):
            sub = groups.reshape(-1, m)[short]
            free_rank = count.reshape(-1)[short, None] + np.cumsum(~sub, axis=1) - 1
            gi, pos = np.nonzero(~sub & (free_rank < n))
            order[short[gi], free_rank[gi, pos]] = pos
        return cls(
            **base,
            n=int(n),
            m=int(m),
            values=vals.reshape(rows, -1),
            indices=order.reshape(rows, -1),
            n_kept=len(r),
        )

    @property
    def nnz(self) -> int:
        return self.n_kept

    @property
    def padding_entries(self) -> int:
        return self.values.size - self.n_kept

    @property
    def index_bits(self) -> int:
        return index_width(self.m)

    def matrix(self) -> np.ndarray:
        rows, cols = self.matrix_shape
        out = np.zeros((rows, cols // self.m, self.m), dtype=self.values.dtype)
        v = self.values.reshape(rows, -1, self.n)
        i = self.indices.reshape(rows, -1, self.n).astype(np.int64)
        np.put_along_axis(out, i, v, axis=2)
        return out.reshape(rows, cols)

    def _bits(self) -> dict[str, int]:
        slot = self.value_bits + self.index_bits
        return {
            "values": self.nnz * self.value_bits,
            "indices": self.nnz * self.index_bits,
            "padding": self.padding_entries * slot,
        }
