"""Dense: every element stored at ``value_bits`` (the reference for compression ratios)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .base import Encoded, register


@register("dense")
@dataclass
class Dense(Encoded):
    """``values``: the 2-D view W[outputs, inputs] itself."""

    summary = "every element, kept or not"

    values: np.ndarray

    @classmethod
    def _encode(
        cls, m: np.ndarray, keep: np.ndarray, base: dict[str, Any]
    ) -> "Dense":
        return cls(**base, values=m.copy())

    @property
    def nnz(self) -> int:
        return int(np.count_nonzero(self.values))

    def matrix(self) -> np.ndarray:
        return self.values

    def _bits(self) -> dict[str, int]:
        return {"values": self.values.size * self.value_bits}
