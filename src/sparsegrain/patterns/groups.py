"""Group patterns: a weight is cut into fixed groups that are kept or pruned whole.

Unstructured (Dim-0), vector (Dim-1), kernel (Dim-2), filter (Dim-3), channel and block
(Mao et al., "Exploring the Regularity of Sparse Structure in CNNs", 2017). Each pattern only
says how a weight is laid out as a (groups, group_size) matrix; ranking and selection are shared.
Where a shape does not divide into whole groups (blocks and FC vectors at the matrix edge), the
edge groups are smaller: they are padded with zero scores and the padding is never kept.
"""

from __future__ import annotations

from typing import Any

import torch

from .base import Geometry, Pattern, from_matrix, group_norm, to_matrix
from .registry import register


def select_groups(scores: torch.Tensor, sizes: torch.Tensor | int, sparsity: float) -> torch.Tensor:
    """Keep-flags for groups: prune the lowest-score groups so pruned elements match the target.

    With equal group sizes the pruned group count is ``round(sparsity * groups)``, as
    ``torch.nn.utils.prune``; with unequal sizes it is the count whose pruned elements come
    closest to ``round(sparsity * elements)``.
    """
    g = scores.numel()
    if isinstance(sizes, int) or bool((sizes == sizes[0]).all()):
        return _keep_largest(scores, int(round(sparsity * g)))
    order = torch.argsort(scores, stable=True)
    total = int(sizes.sum())
    target = int(round(sparsity * total))
    pruned = torch.cat([sizes.new_zeros(1), torch.cumsum(sizes[order], 0)])
    n_prune = int(torch.argmin((pruned - target).abs()))
    keep = torch.ones(g, dtype=torch.bool)
    keep[order[:n_prune]] = False
    return keep


def _keep_largest(scores: torch.Tensor, n_prune: int) -> torch.Tensor:
    """Prune the ``n_prune`` lowest scores, ties broken by position (as a stable sort would).

    A k-th value selection is linear in the number of scores; a full sort is not.
    """
    if n_prune <= 0:
        return torch.ones(scores.numel(), dtype=torch.bool)
    t = torch.kthvalue(scores, n_prune).values
    keep = scores > t
    ties = scores == t
    n_ties, n_kept = int(torch.count_nonzero(ties)), int(torch.count_nonzero(keep))
    n_ties_pruned = n_prune - (scores.numel() - n_kept - n_ties)
    if n_ties_pruned < n_ties:
        keep[torch.nonzero(ties).flatten()[n_ties_pruned:]] = True
    return keep


class GroupPattern(Pattern):
    """A pattern defined by a partition of the weight into groups."""

    def _groups(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` laid out as (groups, group_size); edge groups padded with zeros."""
        raise NotImplementedError

    def _ungroup(self, g: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        """Inverse of :meth:`_groups`, dropping the padding."""
        raise NotImplementedError

    def _group_sizes(self, shape: torch.Size) -> torch.Tensor | int:
        """Real (unpadded) entries of every group; one int when all groups are whole."""
        return self._groups(torch.ones(shape)).sum(1).long()

    def saliency(self, score: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-group saliency (the pattern's norm of the scores) and group sizes (real entries)."""
        sal = group_norm(self._groups(score), self.norm, dim=1)
        sizes = self._group_sizes(score.shape)
        return sal, torch.full_like(sal, sizes, dtype=torch.long) if isinstance(sizes, int) else sizes

    def _mask(self, score: torch.Tensor, sparsity: float) -> torch.Tensor:
        g = self._groups(score)
        keep = select_groups(group_norm(g, self.norm, dim=1), self._group_sizes(score.shape), sparsity)
        return self._ungroup(keep[:, None].expand(-1, g.shape[1]), score.shape)

    def group_counts(self, mask: torch.Tensor) -> tuple[int, int]:
        real = self._groups(torch.ones(mask.shape)) > 0.5
        g = self._groups(mask.float()) > 0.5
        return int((g & real).any(1).sum()), g.shape[0]

    def _violation(self, mask: torch.Tensor) -> str | None:
        real = self._groups(torch.ones(mask.shape)) > 0.5
        g = self._groups(mask.float()) > 0.5
        mixed = (g & real).any(1) & ~(g | ~real).all(1)
        if bool(mixed.any()):
            first = int(torch.nonzero(mixed)[0])
            return f"{self.spec}: group {first} of {mixed.numel()} is partly kept and partly pruned"
        return None


class _TileGroups(GroupPattern):
    """Groups are R x C tiles of a 2-D layout of the weight (padded at the edges)."""

    def _tile(self, shape: torch.Size) -> tuple[int, int]:
        raise NotImplementedError

    def _layout(self, t: torch.Tensor) -> torch.Tensor:
        return to_matrix(t)

    def _unlayout(self, m: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        return from_matrix(m, shape)

    def _group_sizes(self, shape: torch.Size) -> torch.Tensor | int:
        rows, cols = self._layout(torch.empty(shape, device="meta")).shape
        r, c = self._tile(shape)
        if rows % r or cols % c:
            return super()._group_sizes(shape)
        return r * c

    def _groups(self, t: torch.Tensor) -> torch.Tensor:
        m = self._layout(t)
        r, c = self._tile(t.shape)
        rows, cols = m.shape
        pr, pc = -rows % r, -cols % c
        if pr or pc:
            m = torch.nn.functional.pad(m, (0, pc, 0, pr))
        nr, nc = m.shape[0] // r, m.shape[1] // c
        return m.reshape(nr, r, nc, c).permute(0, 2, 1, 3).reshape(nr * nc, r * c)

    def _ungroup(self, g: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        probe = self._layout(torch.empty(shape, device="meta"))
        rows, cols = probe.shape
        r, c = self._tile(shape)
        nr, nc = -(-rows // r), -(-cols // c)
        m = g.reshape(nr, nc, r, c).permute(0, 2, 1, 3).reshape(nr * r, nc * c)
        return self._unlayout(m[:rows, :cols].contiguous(), shape)


@register("unstructured")
class Unstructured(_TileGroups):
    """Keep the largest-score elements (Dim-0)."""

    summary = "keep the largest-score elements anywhere (fine-grained, Dim-0)"
    forms = ("unstructured",)

    def _tile(self, shape: torch.Size) -> tuple[int, int]:
        return 1, 1

    def _layout(self, t: torch.Tensor) -> torch.Tensor:
        return t.reshape(t.shape[0], -1)

    def _unlayout(self, m: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        return m.reshape(shape)

    def _violation(self, mask: torch.Tensor) -> str | None:
        return None


@register("block")
class Block(_TileGroups):
    """R x C tiles of the 2-D view (conv: C_out x Kh*Kw*C_in) kept or pruned whole."""

    summary = "R x C tiles of the 2-D view kept or pruned whole (block:RxC, e.g. block:4x4)"
    forms = ("block:RxC",)
    example = "block:4x4"

    def __init__(self, r: int, c: int, norm: str = "l1") -> None:
        super().__init__(norm)
        if r < 1 or c < 1:
            raise ValueError(f"block:{r}x{c}: block sides must be >= 1")
        self.r, self.c = r, c

    @classmethod
    def from_parts(cls, args: list[str], opts: dict[str, Any]) -> Block:
        if len(args) != 1 or "x" not in args[0]:
            raise ValueError("block takes one RxC parameter, e.g. block:4x4")
        r, c = args[0].lower().split("x", 1)
        return cls(int(r), int(c), **opts)

    def _params(self) -> list[str]:
        return [f"{self.r}x{self.c}"]

    @property
    def geometry(self) -> Geometry:
        return Geometry(self.kind, block=(self.r, self.c))

    def _tile(self, shape: torch.Size) -> tuple[int, int]:
        return self.r, self.c


@register("vector")
class Vector(_TileGroups):
    """Dim-1: a kernel row W[o, i, r, :] (axis=-1) or column W[o, i, :, c] (axis=-2).

    Conv1d: the whole kernel W[o, i, :]. FC/LSTM: a segment of ``length`` consecutive inputs of
    one output row (axis=-1) or of ``length`` consecutive outputs of one input column (axis=-2).
    """

    summary = "Dim-1: one kernel row W[o,i,r,:] (conv) or a row segment of `length` (FC)"
    forms = ("vector", "vector:axis=-2", "vector:length=8")

    def __init__(self, axis: int = -1, length: int = 4, norm: str = "l1") -> None:
        super().__init__(norm)
        if axis not in (-1, -2):
            raise ValueError(f"vector axis must be -1 (rows) or -2 (columns), got {axis}")
        if length < 1:
            raise ValueError(f"vector length must be >= 1, got {length}")
        self.axis, self.length = axis, length

    def _options(self) -> dict[str, object]:
        return {
            **({"axis": self.axis} if self.axis != -1 else {}),
            **({"length": self.length} if self.length != 4 else {}),
        }

    def _layout(self, t: torch.Tensor) -> torch.Tensor:
        if t.dim() == 4 and self.axis == -2:
            return t.transpose(2, 3).reshape(-1, t.shape[2])
        if t.dim() >= 3:
            return t.reshape(-1, t.shape[-1])
        return t if self.axis == -1 else t.t()

    def _unlayout(self, m: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        if len(shape) == 4 and self.axis == -2:
            o, i, kh, kw = shape
            return m.reshape(o, i, kw, kh).transpose(2, 3).contiguous()
        if len(shape) >= 3:
            return m.reshape(shape)
        return m if self.axis == -1 else m.t().contiguous()

    def _tile(self, shape: torch.Size) -> tuple[int, int]:
        if len(shape) >= 3:
            return 1, shape[-2] if (len(shape) == 4 and self.axis == -2) else shape[-1]
        return 1, self.length


@register("kernel")
class Kernel(_TileGroups):
    """Dim-2: a whole kernel W[o, i, :, :]; for FC weights each element is its own kernel."""

    summary = "Dim-2: whole 2-D kernels W[o,i,:,:] (FC: single elements)"
    forms = ("kernel",)

    def _layout(self, t: torch.Tensor) -> torch.Tensor:
        return t.reshape(-1, t[0, 0].numel())

    def _unlayout(self, m: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        return m.reshape(shape)

    def _tile(self, shape: torch.Size) -> tuple[int, int]:
        k = 1
        for s in shape[2:]:
            k *= s
        return 1, k


@register("filter")
class Filter(_TileGroups):
    """Dim-3: a whole output channel W[o, ...] (an FC row)."""

    summary = "Dim-3: whole output channels W[o,:,:,:] (FC: whole rows)"
    forms = ("filter",)

    def _layout(self, t: torch.Tensor) -> torch.Tensor:
        return t.reshape(t.shape[0], -1)

    def _unlayout(self, m: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        return m.reshape(shape)

    def _tile(self, shape: torch.Size) -> tuple[int, int]:
        n = 1
        for s in shape[1:]:
            n *= s
        return 1, n


@register("channel")
class Channel(_TileGroups):
    """A whole input channel W[:, i, ...] (an FC column)."""

    summary = "whole input channels W[:,i,:,:] (FC: whole columns)"
    forms = ("channel",)

    def _layout(self, t: torch.Tensor) -> torch.Tensor:
        return t.transpose(0, 1).reshape(t.shape[1], -1)

    def _unlayout(self, m: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        return m.reshape(shape[1], shape[0], *shape[2:]).transpose(0, 1).contiguous()

    def _tile(self, shape: torch.Size) -> tuple[int, int]:
        n = 1
        for i, s in enumerate(shape):
            if i != 1:
                n *= s
        return 1, n
