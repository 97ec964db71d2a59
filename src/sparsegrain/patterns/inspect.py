"""How much of a layer each pattern keeps: the figures behind ``sparsegrain inspect``."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from .base import shape_str
from .registry import pattern


@dataclass
class PatternReport:
    """One pattern on one layer at one target sparsity."""

    layer: str
    shape: str
    pattern: str
    target: float
    achieved: float | None = None
    groups_kept: int | None = None
    groups_total: int | None = None
    #: L1 norm of the kept weights / L1 norm of all weights
    l1_kept: float | None = None
    #: why the pattern does not apply to this layer (it cannot tile the shape)
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def inspect_layer(name: str, weight: torch.Tensor, spec: str, sparsity: float) -> PatternReport:
    """Apply pattern ``spec`` at ``sparsity`` to one weight and measure what it keeps."""
    if weight.is_meta:
        raise ValueError(f"{name}: a meta tensor holds no data; give real weights")
    if weight.is_quantized or weight.layout != torch.strided:
        kind = "quantized" if weight.is_quantized else str(weight.layout).removeprefix("torch.")
        raise ValueError(f"{name}: a {kind} tensor; give a dense one (weight.dequantize() or "
                         "weight.to_dense())")
    p = pattern(spec)
    rep = PatternReport(name, shape_str(weight.shape), p.spec, sparsity)
    try:
        mask = p.mask(weight, sparsity)
    except ValueError as e:
        if "cannot tile" not in str(e):
            raise
        rep.error = str(e)
        return rep
    a = weight.detach().abs().float()
    rep.achieved = 1.0 - float(mask.float().mean())
    rep.groups_kept, rep.groups_total = p.group_counts(mask)
    rep.l1_kept = float(a[mask].sum() / a.sum()) if float(a.sum()) > 0 else 0.0
    return rep
