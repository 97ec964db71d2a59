"""EIE PE-balanced sparsity: rows interleaved over P processing elements (row i -> PE i mod P),
and every PE keeps the same number of weights, so no PE waits for another (Han et al., "EIE:
Efficient Inference Engine on Compressed Deep Neural Network", ISCA 2016, section 3).

``balance=column`` (default): for every input column j each PE keeps the same count c_j of its
rows (EIE broadcasts one activation per column to all PEs, so this balances every step).
``balance=layer``: each PE keeps the same total over the layer.

Unequal PE slices: when rows are not a multiple of P the first ``rows % P`` PEs hold one row
more. The per-PE count is capped by the smallest slice, ``rows // P`` rows (the missing row is
treated as a padding row that is never kept), so the balance is exact; a layer with fewer rows
than PEs is rejected. The counts follow a layer-wide top-k (what each PE's slice of column j
holds of the largest scores, averaged over PEs and distributed by largest remainder), so the
kept count is the multiple of P nearest the target.
"""

from __future__ import annotations

from typing import Any

import torch

from .base import Geometry, Pattern, from_matrix, keep_count, matrix_shape, shape_error, to_matrix
from .registry import register

BALANCES: tuple[str, ...] = ("column", "layer")


def largest_remainder(share: torch.Tensor, total: int, cap: int) -> torch.Tensor:
    """Integers c <= ``cap`` summing to ``total`` (<= cap * len), each near its real ``share``."""
    c = share.floor().clamp(max=cap).long()
    left = total - int(c.sum())
    while left > 0:
        rem = torch.where(c < cap, share - c, torch.tensor(float("-inf")))
        n = min(left, int((c < cap).sum()))
        c[torch.argsort(rem, descending=True, stable=True)[:n]] += 1
        left -= n
    return c


@register("pebalanced")
class PEBalanced(Pattern):
    """Rows dealt to P PEs round-robin; every PE keeps the same count (per column or per layer)."""

    summary = "rows interleaved over P PEs (row i -> PE i mod P); every PE keeps the same count"
    forms = ("pebalanced:P", "pebalanced:P:balance=layer")
    example = "pebalanced:64"

    def __init__(self, p: int, balance: str = "column", norm: str = "l1") -> None:
        super().__init__(norm)
        if p < 1:
            raise ValueError(f"pebalanced:{p}: the PE count P must be >= 1")
        if balance not in BALANCES:
            raise ValueError(f"unknown balance {balance!r}; valid: {', '.join(BALANCES)}")
        self.p, self.balance = p, balance

    @classmethod
    def from_parts(cls, args: list[str], opts: dict[str, Any]) -> PEBalanced:
        if len(args) != 1:
            raise ValueError("pebalanced takes one integer, the number of PEs, e.g. pebalanced:64")
        return cls(int(args[0]), **opts)

    def _params(self) -> list[str]:
        return [str(self.p)]

    @property
    def geometry(self) -> Geometry:
        return Geometry(self.kind, n_pe=self.p)

    def _options(self) -> dict[str, object]:
        return {"balance": self.balance} if self.balance != "column" else {}

    def check_shape(self, shape: torch.Size | tuple[int, ...]) -> None:
        rows = matrix_shape(shape)[0]
        if rows < self.p:
            raise shape_error(
                self, shape, f"its {rows} output rows are fewer than P = {self.p} PEs"
            )

    def _slices(self, t: torch.Tensor, pad: float) -> torch.Tensor:
        """2-D view as (rows per PE, P, cols): [q, p, j] is row q * P + p; missing rows = pad."""
        m = to_matrix(t)
        extra = -m.shape[0] % self.p
        if extra:
            m = torch.cat([m, m.new_full((extra, m.shape[1]), pad)])
        return m.reshape(-1, self.p, m.shape[1])

    def _mask(self, score: torch.Tensor, sparsity: float) -> torch.Tensor:
        x = self._slices(score.abs(), float("-inf"))
        q, p, cols = x.shape
        rows = matrix_shape(score.shape)[0]
        smallest = rows // p
        flat = x.reshape(-1)
        top = torch.topk(flat, keep_count(rows * cols, sparsity)).indices
        total = min(round(len(top) / p), smallest * cols)
        if self.balance == "layer":
            per_pe = x.permute(1, 0, 2).reshape(p, -1)
            keep = torch.zeros_like(per_pe, dtype=torch.bool)
            keep.scatter_(1, torch.topk(per_pe, total, dim=1).indices, True)
            keep = keep.reshape(p, q, cols).permute(1, 0, 2)
        else:
            hits = torch.zeros(flat.shape, dtype=torch.bool)
            hits[top] = True
            share = hits.reshape(x.shape).sum((0, 1)).double() / p
            count = largest_remainder(share, total, smallest)
            order = torch.argsort(x, dim=0, descending=True, stable=True)
            kept_sorted = (torch.arange(q)[:, None, None] < count).expand(q, p, cols)
            keep = torch.zeros_like(x, dtype=torch.bool).scatter_(0, order, kept_sorted)
        m = keep.reshape(q * p, cols)[:rows]
        return from_matrix(m.contiguous(), score.shape)

    def _violation(self, mask: torch.Tensor) -> str | None:
        counts = self._slices(mask.long(), 0).sum(0)  # (P, cols)
        if self.balance == "layer":
            totals = counts.sum(1)
            bad = torch.nonzero(totals != totals[0])
            if len(bad):
                pe = int(bad[0])
                return (
                    f"{self.spec}: PE {pe} keeps {int(totals[pe])} weights but PE 0 keeps "
                    f"{int(totals[0])}; every PE must keep the same count"
                )
            return None
        bad = torch.nonzero(counts != counts[0])
        if len(bad):
            pe, j = (int(x) for x in bad[0])
            return (
                f"{self.spec}: in column {j}, PE {pe} keeps {int(counts[pe, j])} but PE 0 keeps "
                f"{int(counts[0, j])}; every PE must keep the same count per column"
            )
        return None
