"""Run-length encoding (SCNN; Parashar et al., ISCA 2017): each kept value with the count of
zeros before it in 4 bits, over the row-major stream of the 2-D view. A run of d >= 16 zeros
inserts floor(d / 16) fillers (value 0, run 15), as the relative index of :mod:`.rcsc`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import Encoded, register
from .rcsc import check_relative, entry_positions, relative_layout


@register("rle")
@dataclass
class RLE(Encoded):
    """``values`` and ``zeros_before`` (uint8, 0..2^run_bits - 1) per entry of the row-major
    stream; ``fillers`` counts the filler entries (value 0, zeros_before 2^run_bits - 1)."""

    summary = "SCNN run-length: (value, 4-bit zero run) per entry, fillers for long runs"
    positional = ("run_bits",)

    run_bits: int
    fillers: int
    values: np.ndarray
    zeros_before: np.ndarray

    @classmethod
    def _encode(
        cls, m: np.ndarray, keep: np.ndarray, base: dict[str, Any], run_bits: int = 4
    ) -> RLE:
        """4-bit zero runs (SCNN)."""
        check_relative(1, run_bits)
        _, zb, src, fillers = relative_layout(keep.reshape(-1, 1), 1, run_bits)
        flat = m.reshape(-1)
        return cls(
            **base,
            run_bits=int(run_bits),
            fillers=fillers,
            values=np.where(src[0] >= 0, flat[np.maximum(src[0], 0)], 0).astype(m.dtype),
            zeros_before=zb[0],
        )

    @property
    def nnz(self) -> int:
        return len(self.values) - self.fillers

    @property
    def padding_entries(self) -> int:
        return self.fillers

    def matrix(self) -> np.ndarray:
        pos, _ = entry_positions(np.array([0, len(self.values)]), self.zeros_before, 1, 0)
        out = np.zeros(int(np.prod(self.matrix_shape)), dtype=self.values.dtype)
        out[pos] = self.values
        return out.reshape(self.matrix_shape)

    def _bits(self) -> dict[str, int]:
        return {
            "values": self.nnz * self.value_bits,
            "indices": self.nnz * self.run_bits,
            "padding": self.fillers * (self.value_bits + self.run_bits),
        }
