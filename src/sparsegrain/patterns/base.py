"""The Pattern protocol, input checks shared by every pattern, and the 2-D weight view."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Literal

import torch

Norm = Literal["l1", "l2", "max"]
NORMS: tuple[str, ...] = ("l1", "l2", "max")


def shape_str(shape: torch.Size | tuple[int, ...]) -> str:
    """A layer shape as people write it, e.g. ``(64, 3, 7, 7)``."""
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


def check_sparsity(sparsity: float) -> float:
    """Return ``sparsity`` as a float, or raise if it is not a number in [0, 1)."""
    try:
        s = float(sparsity)
    except (TypeError, ValueError):
        raise ValueError(f"sparsity must be a number in [0, 1), got {sparsity!r}") from None
    if not (0.0 <= s < 1.0) or math.isnan(s):
        raise ValueError(f"sparsity must be in [0, 1), got {s}")
    return s


def check_tensor(t: torch.Tensor, what: str = "weight") -> torch.Tensor:
    """Return ``t`` as a detached float tensor, or raise on a wrong type, rank or non-finite value."""
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{what} must be a torch.Tensor, got {type(t).__name__}")
    if t.dim() not in (2, 3, 4):
        raise ValueError(
            f"{what} has shape {shape_str(t.shape)}: patterns take 2-D (Linear, LSTM/GRU), "
            "3-D (Conv1d) or 4-D (Conv2d) weights"
        )
    if t.numel() == 0:
        raise ValueError(f"{what} of shape {shape_str(t.shape)} is empty")
    t = t.detach()
    if not t.is_floating_point():
        t = t.float()
    lo, hi = torch.aminmax(t)  # NaN and inf show in the extremes; one pass, 10x isfinite().all()
    if not (math.isfinite(float(lo)) and math.isfinite(float(hi))):
        bad = int((~torch.isfinite(t)).sum())
        raise ValueError(f"{what} of shape {shape_str(t.shape)} holds {bad} NaN or inf values; "
                         "give finite numbers")
    return t


def group_norm(values: torch.Tensor, norm: str, dim: int | tuple[int, ...]) -> torch.Tensor:
    """Saliency of groups laid along ``dim``: L1 (sum of |x|), L2 or max of |x|."""
    a = values.abs()
    if isinstance(dim, int) and a.shape[dim] == 1 and norm in NORMS:
        return a.squeeze(dim)  # one-element groups: every norm is |x|
    if norm == "l1":
        return a.sum(dim=dim)
    if norm == "l2":
        return a.pow(2).sum(dim=dim).sqrt()
    if norm == "max":
        return a.amax(dim=dim)
    raise ValueError(f"unknown norm {norm!r}; valid: {', '.join(NORMS)}")


def to_matrix(t: torch.Tensor) -> torch.Tensor:
    """The 2-D view W[outputs, inputs] of a weight; conv kernels go channel-last (Kh*Kw*C_in)."""
    if t.dim() == 2:
        return t
    # (C_out, C_in, *k) -> (C_out, *k, C_in) -> (C_out, prod(k) * C_in)
    perm = (0, *range(2, t.dim()), 1)
    return t.permute(perm).reshape(t.shape[0], -1)


def from_matrix(m: torch.Tensor, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
    """Inverse of :func:`to_matrix` for a weight of the given shape."""
    if len(shape) == 2:
        return m.reshape(shape)
    c_out, c_in, *k = shape
    inv = (0, len(shape) - 1, *range(1, len(shape) - 1))
    return m.reshape(c_out, *k, c_in).permute(inv).contiguous()


def matrix_shape(shape: torch.Size | tuple[int, ...]) -> tuple[int, int]:
    """(rows, cols) of the 2-D view :func:`to_matrix` gives a weight of this shape."""
    rows, cols = to_matrix(torch.empty(tuple(shape), device="meta")).shape
    return int(rows), int(cols)


def shape_error(pattern: Pattern, shape: torch.Size | tuple[int, ...], rule: str) -> ValueError:
    """A ValueError naming the pattern, the layer shape and the tiling rule it breaks."""
    return ValueError(f"{pattern.spec} cannot tile a layer of shape {shape_str(shape)}: {rule}")


def keep_count(n: int, sparsity: float) -> int:
    """Items kept out of ``n`` at ``sparsity``; pruned = round(sparsity * n) as torch.nn.utils.prune."""
    return n - int(round(sparsity * n))


@dataclass(frozen=True)
class Geometry:
    """Where a pattern's nonzeros may fall, in the terms the stages that exploit it use.

    This is the one place a format, kernel or machine learns its parameters from a pattern
    (``bcsr`` its block from ``block``, ``csph`` its chunk from ``chunk``); a field is ``None``
    when the pattern does not guarantee that structure. A new kind of structure needs no new
    field: its pattern declares it in ``extra`` (``Geometry("vnm", extra={"vnm": (V, N, M)})``)
    and the members that exploit it read ``geometry.get("vnm")``.
    """

    #: the pattern kind (``"unstructured"``, ``"block"``, ...)
    kind: str
    #: R x C tiles of the 2-D view kept or pruned whole
    block: tuple[int, int] | None = None
    #: (N, M): at most N kept in every M consecutive inputs of a row
    nm: tuple[int, int] | None = None
    #: (B, E): GS packs of B nonzeros in distinct banks, E from each row of a B / E-row group
    gs: tuple[int, int] | None = None
    #: GS rows are permuted (sorted by kept count) before they are grouped
    gs_scatter: bool = False
    #: GS over R x C blocks of the 2-D view (1 x 1: over single weights)
    gs_block: tuple[int, int] = (1, 1)
    #: CSP chunk width C: every input row keeps a prefix of chunks of C outputs
    chunk: int | None = None
    #: P: rows dealt to P PEs round-robin, every PE keeping the same count
    n_pe: int | None = None
    #: K: every row's K equal column banks keep the same count
    banks: int | None = None
    #: structures beyond the fields above, by name (read with :meth:`get`)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))

    def __hash__(self) -> int:
        named = tuple((f.name, getattr(self, f.name)) for f in fields(self) if f.name != "extra")
        return hash((named, tuple(sorted(self.extra.items()))))

    def get(self, name: str) -> Any:
        """The structure ``name``: a field above or an ``extra`` entry; None where absent."""
        if name != "extra" and name in {f.name for f in fields(self)}:
            return getattr(self, name)
        return self.extra.get(name)


class Pattern(ABC):
    """A rule for which weights may be nonzero.

    Subclasses implement :meth:`_mask` on a checked score tensor and :meth:`_violation` on a
    boolean mask whose shape the pattern tiles; :meth:`violation` and :meth:`is_valid` check the
    mask's type and shape before asking it.
    ``spec`` is the canonical string that :func:`sparsegrain.pattern` parses back.
    """

    #: registry key (``"nm"``, ``"gs"``); set by the registry decorator
    kind: str = ""
    #: one-line description for ``sparsegrain patterns``
    summary: str = ""
    #: string forms users may type, for help and error messages
    forms: tuple[str, ...] = ()
    #: a concrete string with typical parameters (``"nm:2:4"``); defaults to ``kind``
    example: str = ""

    def __init__(self, norm: str = "l1") -> None:
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}; valid: {', '.join(NORMS)}")
        self.norm = norm

    @property
    def geometry(self) -> Geometry:
        """The structure this pattern guarantees, for the stages that exploit it."""
        return Geometry(self.kind)

    @property
    def structural_sparsity(self) -> float | None:
        """The sparsity the structure itself fixes whatever the target (N:M's 1 - N/M), or None
        when masks follow the target."""
        return None

    @property
    def spec(self) -> str:
        """Canonical pattern string, e.g. ``"nm:2:4"`` or ``"filter:norm=l2"``."""
        opts = {**self._options(), **({"norm": self.norm} if self.norm != "l1" else {})}
        return ":".join([self.kind, *self._params(), *(f"{k}={v}" for k, v in opts.items())])

    def _params(self) -> list[str]:
        """Positional parameters of the canonical string (``["2", "4"]`` for ``nm:2:4``)."""
        return []

    def _options(self) -> dict[str, object]:
        """Options that differ from their defaults, for the canonical string."""
        return {}

    @classmethod
    def from_parts(cls, args: list[str], opts: dict[str, Any]) -> Pattern:
        """Build from the parsed string: positional ``args`` and ``key=value`` ``opts`` (values
        as parsed, checked by the constructor)."""
        if args:
            raise ValueError(f"{cls.kind} takes no positional parameters, got {':'.join(args)!r}")
        return cls(**opts)

    def __repr__(self) -> str:
        return f"pattern({self.spec!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pattern) and other.spec == self.spec

    def __hash__(self) -> int:
        return hash(self.spec)

    def check_shape(self, shape: torch.Size | tuple[int, ...]) -> None:  # noqa: B027
        """Raise ``ValueError`` naming the shape and the rule if the pattern cannot tile it; a
        pattern without a tiling rule keeps this default, which accepts every shape."""

    def mask(
        self, weight: torch.Tensor, sparsity: float, score: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Boolean mask (True = kept) of ``weight``'s shape at the target ``sparsity``.

        ``score`` (same shape, default ``|weight|``) ranks the weights; groups are ranked by the
        pattern's norm of their scores.
        """
        weight = check_tensor(weight, "weight")
        sparsity = check_sparsity(sparsity)
        if score is None:
            score = weight.abs()
        else:
            score = check_tensor(score, "score")
            if score.shape != weight.shape:
                raise ValueError(
                    f"score shape {shape_str(score.shape)} differs from weight shape "
                    f"{shape_str(weight.shape)}"
                )
        self.check_shape(weight.shape)
        m = self._mask(score.float(), sparsity)
        assert m.shape == weight.shape and m.dtype == torch.bool
        return m

    @abstractmethod
    def _mask(self, score: torch.Tensor, sparsity: float) -> torch.Tensor:
        """Mask from a checked, finite, float score tensor."""

    def group_counts(self, mask: torch.Tensor) -> tuple[int, int]:
        """Kept and total selection units of a mask (groups for group patterns, else elements)."""
        return int(mask.sum()), mask.numel()

    def is_valid(self, mask: torch.Tensor) -> bool:
        """Does ``mask`` (a boolean tensor of a weight's shape) obey the pattern?"""
        return self.violation(mask) is None

    def violation(self, mask: torch.Tensor) -> str | None:
        """``None`` if ``mask`` obeys the pattern, else which rule it breaks and where."""
        if not isinstance(mask, torch.Tensor):
            raise ValueError(f"mask must be a torch.Tensor, got {type(mask).__name__}")
        if mask.dim() not in (2, 3, 4):
            return f"mask has shape {shape_str(mask.shape)}: expected 2-D, 3-D or 4-D"
        try:
            self.check_shape(mask.shape)
        except ValueError as e:
            return str(e)
        return self._violation(mask.bool())

    @abstractmethod
    def _violation(self, mask: torch.Tensor) -> str | None:
        """Rule check on a boolean mask whose shape the pattern tiles."""
