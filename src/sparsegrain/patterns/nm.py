"""N:M sparsity: in every M consecutive inputs of a row, at most N are nonzero (2:4 on GPUs)."""

from __future__ import annotations

from typing import Any

import torch

from .base import Geometry, Pattern, from_matrix, shape_error, to_matrix
from .registry import register


@register("nm")
class NM(Pattern):
    """Keep the N largest scores of every M consecutive inputs of the 2-D view.

    The sparsity is structural, 1 - N/M, whatever target is asked for; the target only has to
    be a valid sparsity.
    """

    summary = "in every M consecutive inputs of a row keep N (nm:2:4 is the GPU 2:4 pattern)"
    forms = ("nm:N:M",)
    example = "nm:2:4"

    def __init__(self, n: int, m: int, norm: str = "l1") -> None:
        super().__init__(norm)
        if not (1 <= n <= m):
            raise ValueError(f"nm:{n}:{m} needs 1 <= N <= M")
        self.n, self.m = n, m

    @classmethod
    def from_parts(cls, args: list[str], opts: dict[str, Any]) -> NM:
        if len(args) != 2:
            raise ValueError("nm takes two integers, e.g. nm:2:4")
        return cls(int(args[0]), int(args[1]), **opts)

    def _params(self) -> list[str]:
        return [str(self.n), str(self.m)]

    @property
    def geometry(self) -> Geometry:
        return Geometry(self.kind, nm=(self.n, self.m))

    @property
    def structural_sparsity(self) -> float | None:
        return 1.0 - self.n / self.m

    def check_shape(self, shape: torch.Size | tuple[int, ...]) -> None:
        cols = to_matrix(torch.empty(shape, device="meta")).shape[1]
        if cols % self.m:
            raise shape_error(
                self, shape, f"its {cols} input columns are not a multiple of M = {self.m}"
            )

    def _mask(self, score: torch.Tensor, sparsity: float) -> torch.Tensor:
        s = to_matrix(score)
        g = s.reshape(s.shape[0], -1, self.m)
        top = torch.topk(g, self.n, dim=2).indices
        keep = torch.zeros_like(g, dtype=torch.bool).scatter_(2, top, True)
        return from_matrix(keep.reshape(s.shape), score.shape)

    def _violation(self, mask: torch.Tensor) -> str | None:
        m = to_matrix(mask)
        counts = m.reshape(m.shape[0], -1, self.m).sum(2)
        bad = torch.nonzero(counts > self.n)
        if len(bad):
            r, g = (int(x) for x in bad[0])
            return (
                f"{self.spec}: row {r}, columns {g * self.m}..{g * self.m + self.m - 1} keep "
                f"{int(counts[r, g])} > N = {self.n}"
            )
        return None
