"""Pruning schedules: the target sparsity at each training step, and when masks are recomputed.

Like ``torch.optim.lr_scheduler`` they are small objects with one question to answer; the
:class:`~sparsegrain.prune.Pruner` asks it once per ``step()``. Registry ``SCHEDULES`` is keyed by
the names a YAML recipe uses (``kind: gradual``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any

from ..core.registry import Registry

SCHEDULES: Registry[type[Schedule]] = Registry("schedule kind", attr="kind")
_register = SCHEDULES.register


class Schedule(ABC):
    """When to recompute masks and at which sparsity, as a function of the step count."""

    kind: str = ""

    @abstractmethod
    def sparsity(self, step: int, final: float) -> float:
        """Target sparsity at ``step`` for a layer whose final target is ``final``."""

    @abstractmethod
    def updates_at(self, step: int) -> bool:
        """Are masks recomputed at ``step``?"""

    @property
    def last_step(self) -> int:
        """The step of the last mask update; training after it is pure fine-tuning."""
        return 0

    def to_dict(self) -> dict[str, Any]:
        """The schedule as a recipe entry (``kind`` plus its fields)."""
        return {"kind": self.kind, **asdict(self)}


@_register("oneshot")
@dataclass(frozen=True)
class OneShot(Schedule):
    """Prune to the final sparsity once, at step ``at``."""

    at: int = 0

    def __post_init__(self) -> None:
        if self.at < 0:
            raise ValueError(f"oneshot: at must be >= 0, got {self.at}")

    def sparsity(self, step: int, final: float) -> float:
        return final if step >= self.at else 0.0

    def updates_at(self, step: int) -> bool:
        return step == self.at

    @property
    def last_step(self) -> int:
        return self.at


@_register("gradual")
@dataclass(frozen=True)
class Gradual(Schedule):
    """Cubic ramp from ``initial`` to the final sparsity over steps [start, end], masks updated
    every ``every`` steps (Zhu & Gupta, "To prune, or not to prune", 2017, eq. 1)."""

    start: int = 0
    end: int = 100
    every: int = 10
    initial: float = 0.0

    def __post_init__(self) -> None:
        if not (0 <= self.start < self.end):
            raise ValueError(f"gradual: need 0 <= start < end, got start={self.start}, end={self.end}")
        if self.every < 1:
            raise ValueError(f"gradual: every must be >= 1, got {self.every}")
        if not (0.0 <= self.initial < 1.0):
            raise ValueError(f"gradual: initial must be in [0, 1), got {self.initial}")

    def sparsity(self, step: int, final: float) -> float:
        if step < self.start:
            return 0.0
        frac = min(1.0, (step - self.start) / (self.end - self.start))
        initial = min(self.initial, final)
        return final + (initial - final) * (1.0 - frac) ** 3

    def updates_at(self, step: int) -> bool:
        return step == self.end or (self.start <= step < self.end and (step - self.start) % self.every == 0)

    @property
    def last_step(self) -> int:
        return self.end


@_register("iterative")
@dataclass(frozen=True)
class Iterative(Schedule):
    """Prune-and-finetune in ``rounds`` rounds of ``round_steps`` steps from ``start``: each round
    prunes the same fraction of the remaining weights, so density after round k is
    (1 - final) ** (k / rounds) (Han et al., 2015, iterative pruning; Frankle & Carbin, 2019)."""

    rounds: int = 3
    round_steps: int = 100
    start: int = 0

    def __post_init__(self) -> None:
        if self.rounds < 1 or self.round_steps < 1 or self.start < 0:
            raise ValueError(
                "iterative: need rounds >= 1, round_steps >= 1 and start >= 0, got "
                f"rounds={self.rounds}, round_steps={self.round_steps}, start={self.start}"
            )

    def sparsity(self, step: int, final: float) -> float:
        if step < self.start:
            return 0.0
        k = min(self.rounds, (step - self.start) // self.round_steps + 1)
        return 1.0 - (1.0 - final) ** (k / self.rounds)

    def updates_at(self, step: int) -> bool:
        off = step - self.start
        return off >= 0 and off % self.round_steps == 0 and off // self.round_steps < self.rounds

    @property
    def last_step(self) -> int:
        return self.start + (self.rounds - 1) * self.round_steps


def schedule(spec: Schedule | dict[str, Any] | str) -> Schedule:
    """A schedule from an instance, a recipe dict (``{"kind": "gradual", "end": 200}``) or a name.

    Raises ``ValueError`` naming an unknown kind or field.
    """
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, dict):
        raise ValueError(f"schedule must be a name or a mapping, got {type(spec).__name__}")
    fields = dict(spec)
    kind = fields.pop("kind", None)
    cls = SCHEDULES.lookup(kind)
    allowed = set(cls.__dataclass_fields__)
    for key in fields:
        if key not in allowed:
            raise ValueError(
                f"unknown key {key!r} in schedule {kind!r}; valid: kind, {', '.join(sorted(allowed))}"
            )
    return cls(**fields)
