"""What to prune: per-layer pattern and sparsity by module name, from Python or a YAML recipe.

A recipe (every key optional)::

    pattern: gs:8:1            # default pattern for every pruned layer
    sparsity: 0.9              # default final sparsity
    criterion: magnitude       # or taylor (|w * grad|)
    schedule: {kind: gradual, start: 0, end: 300, every: 20}
    layers:                    # omit to prune every Linear/Conv/LSTM/GRU layer
      conv2: {}                #   defaults
      "fc*": {pattern: nm:2:4} #   glob on module names, with overrides
    dense: [fc3]               # names or globs left dense
    on_untileable: error       # or skip: leave a layer the pattern cannot tile dense, with a warning
    allocation: uniform        # or global: rank the pattern's groups of all layers together

With ``allocation: global`` the layers without their own ``sparsity`` share the target: at every
mask update the weights are ranked across those layers (see :mod:`.allocation`).

Names are module names as ``model.named_modules()`` gives them; for LSTM/GRU a name may also pick
one weight (``rnn.weight_hh_l0``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..patterns import check_sparsity, pattern
from .criteria import CRITERIA
from .schedules import OneShot, Schedule, schedule

ON_UNTILEABLE = ("error", "skip")
#: allocations the pruner applies itself (``sensitivity`` needs an evaluation: the sweep's)
PRUNER_ALLOCATIONS = ("uniform", "global")
LAYER_KEYS = ("pattern", "sparsity")


@dataclass(frozen=True)
class LayerRule:
    """Pattern and final sparsity of one pruned layer."""

    pattern: str
    sparsity: float


@dataclass
class PruneConfig:
    """Which layers to prune, with which pattern, to which sparsity, on which schedule."""

    pattern: str = "unstructured"
    sparsity: float = 0.5
    layers: list[str] | dict[str, dict[str, Any]] | None = None
    dense: list[str] = field(default_factory=list)
    criterion: str = "magnitude"
    schedule: Schedule | dict[str, Any] | str = field(default_factory=OneShot)
    on_untileable: str = "error"
    allocation: str = "uniform"

    def __post_init__(self) -> None:
        self.pattern = pattern(self.pattern).spec
        self.sparsity = check_sparsity(self.sparsity)
        self.schedule = schedule(self.schedule)
        if self.criterion not in CRITERIA:
            raise ValueError(f"unknown criterion {self.criterion!r}; valid: {', '.join(CRITERIA)}")
        if self.on_untileable not in ON_UNTILEABLE:
            raise ValueError(
                f"on_untileable must be one of {', '.join(ON_UNTILEABLE)}, got {self.on_untileable!r}"
            )
        if self.allocation not in PRUNER_ALLOCATIONS:
            raise ValueError(
                f"allocation must be one of {', '.join(PRUNER_ALLOCATIONS)}, got "
                f"{self.allocation!r} (sensitivity allocation is the sweep's: it needs an evaluation)"
            )
        if isinstance(self.dense, str):
            self.dense = [self.dense]
        self.dense = list(self.dense)
        if self.layers is not None:
            items = self.layers.items() if isinstance(self.layers, dict) else ((n, {}) for n in self.layers)
            self.layers = {str(name): _layer_overrides(str(name), over) for name, over in items}

    def rule(self, overrides: dict[str, Any]) -> LayerRule:
        """The rule for a layer: the defaults with the layer's overrides applied."""
        return LayerRule(overrides.get("pattern", self.pattern), overrides.get("sparsity", self.sparsity))

    def to_dict(self) -> dict[str, Any]:
        """The config as a recipe mapping (round-trips through :meth:`from_dict`)."""
        return {
            "pattern": self.pattern,
            "sparsity": self.sparsity,
            "layers": self.layers,
            "dense": list(self.dense),
            "criterion": self.criterion,
            "schedule": self.schedule.to_dict(),
            "on_untileable": self.on_untileable,
            "allocation": self.allocation,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PruneConfig:
        """A config from a recipe mapping; an unknown key is a ``ValueError`` naming it."""
        if not isinstance(d, dict):
            raise ValueError(f"a pruning recipe must be a mapping, got {type(d).__name__}")
        allowed = tuple(cls.__dataclass_fields__)
        for key in d:
            if key not in allowed:
                raise ValueError(f"unknown key {key!r} in pruning recipe; valid: {', '.join(allowed)}")
        return cls(**d)

    @classmethod
    def from_yaml(cls, path: str | Path) -> PruneConfig:
        """Read a YAML recipe file."""
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"pruning recipe {str(p)!r} does not exist")
        try:
            d = yaml.safe_load(p.read_text())
        except yaml.YAMLError as e:
            raise ValueError(f"pruning recipe {str(p)!r} is not valid YAML: {e}") from None
        return cls.from_dict(d or {})


def _layer_overrides(name: str, over: Any) -> dict[str, Any]:
    """Checked per-layer overrides: only ``pattern`` and ``sparsity``; ``None`` means defaults."""
    if over is None:
        return {}
    if not isinstance(over, dict):
        raise ValueError(f"layer {name!r}: overrides must be a mapping of {', '.join(LAYER_KEYS)}")
    for key in over:
        if key not in LAYER_KEYS:
            raise ValueError(f"unknown key {key!r} for layer {name!r}; valid: {', '.join(LAYER_KEYS)}")
    out: dict[str, Any] = {}
    if "pattern" in over:
        out["pattern"] = pattern(over["pattern"]).spec
    if "sparsity" in over:
        out["sparsity"] = check_sparsity(over["sparsity"])
    return out


def load_config(config: PruneConfig | dict[str, Any] | str | Path) -> PruneConfig:
    """A :class:`PruneConfig` from itself, a recipe mapping, or a YAML file path."""
    if isinstance(config, PruneConfig):
        return config
    if isinstance(config, dict):
        return PruneConfig.from_dict(config)
    if isinstance(config, (str, Path)):
        return PruneConfig.from_yaml(config)
    raise ValueError(f"config must be a PruneConfig, a mapping or a YAML path, got {type(config).__name__}")
