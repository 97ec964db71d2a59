"""Cascading structured pruning (CSP-A; Hanson et al., "Cascading Structured Pruning: Enabling
High Data Reuse for Sparse DNN Accelerators", ISCA 2022).

The layer is flattened to W[i, o]: rows i are the inputs (input channel x kernel position, the
columns of our 2-D view), columns o the output channels, cut into n contiguous chunks of C
channels (the last chunk is narrower when C does not divide C_out). The cascade of row i from
chunk j is that row from chunk j to the end; a cascade whose norm is below the threshold is
zeroed whole, so row i keeps a prefix of L_i chunks, L_i = the number of its tail norms at or
above the threshold.

The kept count is sum over (row, chunk) cells whose tail norm clears the threshold of the chunk
widths; the threshold is found by bisection (a binary search) over the tail norms sorted in
descending order, which is exact: the achieved sparsity is the achievable one closest to the
target, within half a chunk-row (C weights). Equal tail norms are taken row by row, earlier
chunks first, so every row still keeps a prefix.

Output channels are not permuted (the paper's optional reordering by importance is not offered:
a mask carries no permutation, so the validator and the format would need one passed beside it).
"""

from __future__ import annotations

from typing import Any

import torch

from .base import Geometry, Pattern, from_matrix, keep_count, matrix_shape, to_matrix
from .registry import register


@register("csp")
class CSP(Pattern):
    """Every input row of W[i, o] keeps a prefix of whole chunks of C output channels."""

    summary = "each input row keeps a prefix of chunks of C output channels (cascading, CSP-A)"
    forms = ("csp:C",)
    example = "csp:8"

    def __init__(self, c: int, norm: str = "l1") -> None:
        super().__init__(norm)
        if c < 1:
            raise ValueError(f"csp:{c}: the chunk width C must be >= 1")
        self.c = c

    @classmethod
    def from_parts(cls, args: list[str], opts: dict[str, Any]) -> CSP:
        if len(args) != 1:
            raise ValueError("csp takes one integer, the chunk width in output channels, e.g. csp:8")
        return cls(int(args[0]), **opts)

    def _params(self) -> list[str]:
        return [str(self.c)]

    @property
    def geometry(self) -> Geometry:
        return Geometry(self.kind, chunk=self.c)

    def chunk_ends(self, c_out: int) -> torch.Tensor:
        """End column (exclusive) of a prefix of L chunks, for L = 0..n."""
        n = -(-c_out // self.c)
        return (torch.arange(n + 1) * self.c).clamp(max=c_out)

    def _chunks(self, t: torch.Tensor) -> torch.Tensor:
        """W[i, o] of ``t`` as (rows i, n chunks, width), the last chunk padded with zeros; the
        width is C capped at the outputs (a wider C is one chunk of them all), so the padding
        stays below the weight's own size."""
        w = to_matrix(t).t()
        c = max(1, min(self.c, w.shape[1]))
        pad = -w.shape[1] % c
        if pad:
            w = torch.nn.functional.pad(w, (0, pad))
        return w.reshape(w.shape[0], -1, c)

    def tail_norms(self, score: torch.Tensor) -> torch.Tensor:
        """T[i, j]: the norm of row i from chunk j to the last chunk (non-increasing in j)."""
        a = self._chunks(score).abs()
        if self.norm == "max":
            return a.amax(2).flip(1).cummax(1).values.flip(1)
        part = a.sum(2) if self.norm == "l1" else a.pow(2).sum(2)
        tail = part.flip(1).cumsum(1).flip(1)
        return tail if self.norm == "l1" else tail.sqrt()

    def _mask(self, score: torch.Tensor, sparsity: float) -> torch.Tensor:
        tail = self.tail_norms(score)
        rows, _n = tail.shape
        c_out = matrix_shape(score.shape)[0]
        ends = self.chunk_ends(c_out)
        widths = ends[1:] - ends[:-1]
        # cells chunk-major, so a stable descending sort takes earlier chunks first on ties
        order = torch.argsort(tail.t().reshape(-1), descending=True, stable=True)
        kept = torch.cat([torch.zeros(1, dtype=torch.long), widths[order // rows].cumsum(0)])
        target = keep_count(rows * c_out, sparsity)
        q = int(torch.searchsorted(kept, target))
        if q > 0 and target - kept[q - 1] <= kept[q] - target:
            q -= 1
        prefix = torch.bincount(order[:q] % rows, minlength=rows)
        keep = torch.arange(c_out)[None, :] < ends[prefix][:, None]
        return from_matrix(keep.t().contiguous(), score.shape)

    def _violation(self, mask: torch.Tensor) -> str | None:
        chunks = self._chunks(mask.long()).sum(2)
        ends = self.chunk_ends(matrix_shape(mask.shape)[0])
        widths = ends[1:] - ends[:-1]
        full = chunks == widths
        partial = (chunks != 0) & ~full
        gap = full[:, 1:] & ~full[:, :-1]
        bad = partial.any(1) | gap.any(1)
        if bool(bad.any()):
            i = int(torch.nonzero(bad)[0])
            j = int(torch.nonzero(partial[i])[0]) if bool(partial[i].any()) else None
            why = (
                f"chunk {j} is partly kept" if j is not None
                else f"chunk {int(torch.nonzero(gap[i])[0]) + 1} is kept after a pruned chunk"
            )
            return (
                f"{self.spec}: input row {i} of the (inputs x outputs) view does not keep a prefix "
                f"of whole chunks: {why}"
            )
        return None
