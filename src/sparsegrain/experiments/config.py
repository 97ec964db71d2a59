"""What a trade-off sweep runs: the model, patterns, sparsities, formats, accelerators and seeds.

A :class:`SweepConfig` is checked on construction (unknown names list the valid ones), and every
result row is keyed by a hash of the full configuration that produced it (:func:`config_key`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from typing import Any

from .. import patterns as patterns_lib
from ..formats import parse_format
from ..hardware import ACCELERATORS
from ..hardware.machines import Machine, is_model_name
from ..hardware.machines import machines as parse_machines
from ..prune.allocation import check_allocation

#: bump when the meaning of a stored row changes, so old rows are not mistaken for new ones
STORE_VERSION = 1

DEFAULT_MODEL = "digits-cnn"
DEFAULT_PATTERNS = (
    "unstructured", "vector", "kernel", "filter", "block:4x4", "nm:2:4", "gs:8:1", "csp:8",
)
DEFAULT_SPARSITIES = (0.5, 0.7, 0.8, 0.9, 0.95)
DEFAULT_ACCELERATORS = ("eie", "gs", "csph", "sparten", "systolic")

#: the pattern name of the unpruned model's row
DENSE = "dense"


@dataclass(frozen=True)
class Pruning:
    """How each point is pruned: ``steps`` fine-tuning steps (None = the model's own default),
    the first ``ramp`` of them a cubic sparsity ramp (Zhu & Gupta 2017) with masks recomputed
    every ``every`` steps, the rest masked fine-tuning. ``steps = 0`` prunes one-shot."""

    steps: int | None = None
    ramp: float = 0.7
    every: int = 10

    def __post_init__(self) -> None:
        if self.steps is not None and (self.steps < 0 or self.steps == 1):
            raise ValueError(f"fine-tuning steps must be 0 (one-shot) or >= 2, got {self.steps}")
        if not 0.0 < self.ramp <= 1.0:
            raise ValueError(f"ramp must be in (0, 1], got {self.ramp}")
        if self.every < 1:
            raise ValueError(f"every must be >= 1, got {self.every}")

    @property
    def ramp_end(self) -> int:
        """The step of the last mask update (before the last fine-tuning step)."""
        return max(1, min(int(self.ramp * (self.steps or 0)), (self.steps or 0) - 1))


@dataclass(frozen=True)
class SweepConfig:
    """One sweep: every pattern at every sparsity, for every seed, plus the dense baseline."""

    model: str = DEFAULT_MODEL
    patterns: tuple[str, ...] = DEFAULT_PATTERNS
    sparsities: tuple[float, ...] = DEFAULT_SPARSITIES
    accelerators: tuple[str, ...] = DEFAULT_ACCELERATORS
    #: format names to encode with; empty = every registered format
    formats: tuple[str, ...] = ()
    seeds: tuple[int, ...] = (0,)
    pruning: Pruning = field(default_factory=Pruning)
    #: evaluation samples whose activations are captured and fed to the accelerator models
    sim_samples: int = 1
    #: content hash of the dense model's weights (and version), set when the sweep runs
    weights: str = ""
    #: how each point's target is shared among the layers: uniform, global or sensitivity
    allocation: str = "uniform"
    #: batch of the measured-CPU latency (the pruned model run with the project's kernels on
    #: this machine against the same model dense); 0 = not measured, None = the workload's own
    #: (:attr:`Workload.cpu_batch`, set when the sweep resolves)
    cpu_batch: int | None = None

    def __post_init__(self) -> None:
        check_model(self.model)
        for name in ("patterns", "sparsities", "accelerators", "formats", "seeds"):
            if isinstance(getattr(self, name), str):
                raise ValueError(f"SweepConfig {name} takes a sequence, not the text "
                                 f"{getattr(self, name)!r}; split what a user typed with "
                                 "split_list first")
        object.__setattr__(self, "patterns", tuple(check_patterns(self.patterns)))
        object.__setattr__(self, "sparsities", tuple(check_sparsities(self.sparsities)))
        object.__setattr__(self, "accelerators", tuple(check_accelerators(self.accelerators)))
        object.__setattr__(self, "formats", tuple(check_formats(self.formats)))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        if not self.seeds:
            raise ValueError("at least one seed is needed")
        if self.sim_samples < 1:
            raise ValueError(f"sim_samples must be >= 1, got {self.sim_samples}")
        check_allocation(self.allocation)
        if self.cpu_batch is not None and (not isinstance(self.cpu_batch, int)
                                           or self.cpu_batch < 0):
            raise ValueError(f"cpu_batch must be an integer >= 0 (0: no CPU timing; none: the "
                             f"workload's own batch), got {self.cpu_batch!r}")

    @property
    def timed_batch(self) -> int:
        """The CPU row's batch once the sweep resolved it (0: not timed)."""
        if self.cpu_batch is None:
            raise ValueError("the sweep's CPU batch is the workload's own: resolve the "
                             "configuration against its workload first")
        return self.cpu_batch

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain JSON-ready data."""
        return asdict(self)

    @cached_property
    def plan(self) -> Plan:
        """The sweep as objects, parsed once per configuration: what the points pass down."""
        patterns = {spec: patterns_lib.pattern(spec) for spec in self.patterns}
        machines: dict[str, Machine] = {}
        for spec in self.accelerators:
            for m in parse_machines(spec):
                derived = first_fit(ACCELERATORS[m.model].for_pattern, list(patterns.values()))
                machines[m.name] = replace(m, params={**derived, **m.params})
        return Plan(patterns, machines)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepConfig:
        """Inverse of :meth:`to_dict` (as stored with a sweep)."""
        d = dict(d)
        d["pruning"] = Pruning(**d.get("pruning", {}))
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def fingerprint(self) -> str:
        """A short hash naming this sweep; a store remembers the sweeps it holds."""
        return digest(self.to_dict())

    def points(self) -> list[tuple[str, float, int]]:
        """(pattern, sparsity, seed) of every point, the dense baseline of each seed first."""
        dense = [(DENSE, 0.0, seed) for seed in self.seeds]
        return dense + [
            (p, s, seed) for seed in self.seeds for p in self.patterns for s in self.sparsities
        ]


@dataclass(frozen=True)
class Plan:
    """A sweep's strings parsed once: its patterns by spec, and its machines by column (a
    grid in a machine's text or file gives a column per configuration), each with the
    parameters derived from the sweep's first pattern it exploits (:func:`first_fit`) under its
    own."""

    patterns: dict[str, patterns_lib.Pattern]
    machines: dict[str, Machine]

    def pattern(self, spec: str) -> patterns_lib.Pattern | None:
        """The pattern a point prunes with (None for the dense baseline)."""
        return None if spec == DENSE else self.patterns[spec]


def first_fit(for_pattern: Callable[[patterns_lib.Geometry], dict[str, Any] | None],
              patterns: list[patterns_lib.Pattern]) -> dict[str, Any]:
    """The parameters a format or machine derives from the sweep's first pattern it exploits
    (``bcsr`` from the first ``block:RxC``, ``csph`` from the first ``csp:C``); the dense
    baseline and every point use the same ones. None exploited: its defaults."""
    return next((p for p in (for_pattern(s.geometry) for s in patterns) if p is not None), {})


def digest(data: Any) -> str:
    """sha256 of the canonical JSON of ``data`` (sorted keys), as 16 hex digits."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def point_config(cfg: SweepConfig, pattern: str, sparsity: float, seed: int) -> dict[str, Any]:
    """Everything that decides a point's pruned model (all its rows share it)."""
    return {
        "version": STORE_VERSION,
        "model": cfg.model,
        **({"weights": cfg.weights} if cfg.weights else {}),  # a store without hashes keeps its keys
        "pattern": pattern,
        "sparsity": sparsity,
        # uniform allocation is left out so the stores written before allocations keep their keys
        **({"allocation": cfg.allocation} if cfg.allocation != "uniform" and pattern != DENSE
           else {}),
        "seed": seed,
        "pruning": asdict(cfg.pruning),  # the dense baseline is fine-tuned like the points
        "sim_samples": cfg.sim_samples,
    }


def config_key(point: dict[str, Any], kind: str, target: str = "",
               params: dict[str, Any] | None = None) -> str:
    """Key of one row: the point's configuration plus what was measured on it, and how."""
    return digest({**point, "kind": kind, "target": target, "params": params or {}})


def split_list(text: str) -> list[str]:
    """Comma-separated items, blanks dropped; a comma inside parentheses stays in its item
    (``gs(lanes=8,16),eie`` is two machines)."""
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text + ","):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth <= 0:
            items.append(text[start:i].strip())
            start = i + 1
    return [t for t in items if t]


def check_model(ref: Any) -> str:
    """The model's label: a built-in name, a ``FILE.py:NAME`` / ``package.module:NAME``
    reference or the name of a Workload handed over as an object. Whether a name can be
    loaded is :func:`~sparsegrain.workloads.workload.load_workload`'s to say, where it is."""
    if not isinstance(ref, str) or not ref.strip() or len(ref) > 400 or not ref.isprintable():
        raise ValueError(f"a model is named by a printable string (a built-in name, FILE.py:NAME "
                         f"or package.module:NAME), got {ref!r}")
    return ref


def check_patterns(specs: Any) -> list[str]:
    """Canonical pattern strings, or a ValueError listing the valid forms."""
    specs = split_list(specs) if isinstance(specs, str) else list(specs)
    if not specs:
        raise ValueError(f"no pattern given; valid forms: {patterns_lib.valid_forms()}")
    out = [patterns_lib.pattern(s).spec for s in specs]
    return _unique(out, "pattern")


def check_sparsities(values: Any) -> list[float]:
    """Sparsities as floats in [0, 1), or a ValueError naming the bad one."""
    values = split_list(values) if isinstance(values, str) else list(values)
    if not values:
        raise ValueError("no sparsity given; give values in [0, 1), e.g. 0.5,0.9")
    out = []
    for v in values:
        try:
            s = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"sparsity {v!r} is not a number; give values in [0, 1)") from None
        if math.isnan(s) or not 0.0 <= s < 1.0:
            raise ValueError(f"sparsity {v} is outside [0, 1); give values in [0, 1), e.g. 0.5,0.9")
        out.append(s)
    return _unique(out, "sparsity")


def check_accelerators(names: Any) -> list[str]:
    """Machines as typed: built-in names, ``MODEL(key=value;...)`` or machine files (each parsed
    and checked here, its columns unique over the sweep)."""
    specs = split_list(names) if isinstance(names, str) else list(names)
    plain = [s for s in specs if isinstance(s, str) and is_model_name(s)]
    _check_names(plain, ACCELERATORS, "accelerator")
    columns = [m.name for s in _unique(specs, "accelerator") for m in parse_machines(s)]
    _unique(columns, "machine column")
    return specs


def check_formats(names: Any) -> list[str]:
    """Format strings (``csr``, ``bcsr:4x4``; empty = all registered) the format registry
    parses, or a ValueError listing the valid ones."""
    names = split_list(names) if isinstance(names, str) else list(names)
    for name in names:
        parse_format(name)
    return _unique(names, "format")


def _check_names(names: Any, registry: dict[str, Any], what: str) -> list[str]:
    names = split_list(names) if isinstance(names, str) else list(names)
    bad = [n for n in names if n not in registry]
    if bad:
        valid = ", ".join(sorted(registry)) or "none installed"
        raise ValueError(f"unknown {what} {', '.join(map(repr, bad))}; valid: {valid}")
    return _unique(names, what)


def _unique(items: list, what: str) -> list:
    dup = sorted({str(x) for x in items if items.count(x) > 1})
    if dup:
        raise ValueError(f"{what} listed twice: {', '.join(dup)}")
    return items
