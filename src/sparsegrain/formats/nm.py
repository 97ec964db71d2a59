"""N:M: per group of M consecutive inputs of a row, N values and N in-group indices (log2 M bits).

The 2:4 layout of NVIDIA sparse tensor cores (Mishra et al., arXiv 2104.08378): 2 values and two
2-bit indices per 4 inputs. A group keeping fewer than N stores padding slots (value 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..patterns import pattern
from .base import Encoded, common, index_width, register


@register("nm")
@dataclass
class NM(Encoded):
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
    def encode(
        cls,
        mat: np.ndarray,
        keep: np.ndarray,
        weight: torch.Tensor,
        value_bits: int = 16,
        dense_bits: int | None = None,
        n: int = 2,
        m: int = 4,
    ) -> "NM":
        """2:4 by default; the mask must obey ``nm:N:M`` (at most N kept per group)."""
        spec = pattern(f"nm:{n}:{m}")
        why = spec.violation(torch.from_numpy(keep))
        if why:
            raise ValueError(f"format nm cannot hold this mask: {why}")
        rows, cols = mat.shape
        pos = np.arange(m)
        # kept positions first, each part ascending: sort by (unkept, position)
        order = np.argsort(np.where(keep.reshape(rows, -1, m), pos, pos + m), axis=2)[:, :, :n]
        vals = np.take_along_axis(mat.reshape(rows, -1, m), order, axis=2)
        held = np.take_along_axis(keep.reshape(rows, -1, m), order, axis=2)
        return cls(
            **common(mat, weight, value_bits, dense_bits),
            n=int(n),
            m=int(m),
            values=np.where(held, vals, 0).astype(mat.dtype).reshape(rows, -1),
            indices=order.astype(np.uint8).reshape(rows, -1),
            n_kept=int(keep.sum()),
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
