"""Dense: every element stored at ``value_bits`` (the reference for compression ratios)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import Encoded, register


@register("dense")
@dataclass
class Dense(Encoded):
    """``values``: the 2-D view W[outputs, inputs] itself; ``n_kept``: how many of them the
    mask kept (a kept weight may be exactly zero, so the values alone cannot tell)."""

    summary = "every element, kept or not"

    values: np.ndarray
    n_kept: int | None = None

    @classmethod
    def _encode(
        cls, m: np.ndarray, keep: np.ndarray, base: dict[str, Any]
    ) -> Dense:
        return cls(**base, values=m.copy(), n_kept=int(np.count_nonzero(keep)))

    @property
    def nnz(self) -> int:
        return int(np.count_nonzero(self.values)) if self.n_kept is None else self.n_kept

    def matrix(self) -> np.ndarray:
        return self.values

    def _bits(self) -> dict[str, int]:
        return {"values": self.values.size * self.value_bits}
