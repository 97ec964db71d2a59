"""Bank-balanced sparsity: every row of the 2-D view is cut into K equal banks of consecutive
columns and every bank keeps the same number of weights (Cao et al., "Efficient and Effective
Sparse LSTM on FPGA with Bank-Balanced Sparsity", FPGA 2019).

The per-bank count is the same for the whole layer, so the kept count moves in steps of
rows x K; it is the count nearest to the target: ``bank_size - round(sparsity * bank_size)``.
"""

from __future__ import annotations

from typing import Any

import torch

from .base import Geometry, Pattern, from_matrix, keep_count, matrix_shape, shape_error, to_matrix
from .registry import register


@register("bank")
class Bank(Pattern):
    """Keep the same number of largest scores in each of the K equal column banks of every row."""

    summary = "every row split into K equal column banks; every bank keeps the same count"
    forms = ("bank:K",)
    example = "bank:4"

    def __init__(self, k: int, norm: str = "l1") -> None:
        super().__init__(norm)
        if k < 1:
            raise ValueError(f"bank:{k}: the bank count K must be >= 1")
        self.k = k

    @classmethod
    def from_parts(cls, args: list[str], opts: dict[str, Any]) -> Bank:
        if len(args) != 1:
            raise ValueError("bank takes one integer, the number of banks per row, e.g. bank:4")
        return cls(int(args[0]), **opts)

    def _params(self) -> list[str]:
        return [str(self.k)]

    @property
    def geometry(self) -> Geometry:
        return Geometry(self.kind, banks=self.k)

    def check_shape(self, shape: torch.Size | tuple[int, ...]) -> None:
        cols = matrix_shape(shape)[1]
        if cols % self.k:
            raise shape_error(
                self, shape, f"its {cols} input columns are not a multiple of K = {self.k} banks"
            )

    def _banks(self, t: torch.Tensor) -> torch.Tensor:
        """``t``'s 2-D view as (rows, K, bank_size)."""
        m = to_matrix(t)
        return m.reshape(m.shape[0], self.k, -1)

    def _mask(self, score: torch.Tensor, sparsity: float) -> torch.Tensor:
        banks = self._banks(score.abs())
        kept = keep_count(banks.shape[2], sparsity)
        top = torch.topk(banks, kept, dim=2).indices
        keep = torch.zeros_like(banks, dtype=torch.bool).scatter_(2, top, True)
        return from_matrix(keep.reshape(banks.shape[0], -1), score.shape)

    def _violation(self, mask: torch.Tensor) -> str | None:
        counts = self._banks(mask).sum(2)
        bad = torch.nonzero(counts != counts[0, 0])
        if len(bad):
            r, b = (int(x) for x in bad[0])
            return (
                f"{self.spec}: row {r}, bank {b} keeps {int(counts[r, b])} but row 0, bank 0 "
                f"keeps {int(counts[0, 0])}; every bank must keep the same count"
            )
        return None
