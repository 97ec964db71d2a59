"""The accelerator-model framework: models count actions, an energy table prices them.

As in Timeloop/Accelergy, a model's ``run`` returns a :class:`SimResult` whose ``actions`` are
counts of the shared action vocabulary (:mod:`.actions`: operations, or 32-bit words for
memories); :func:`price` turns them into picojoules with a table loaded from YAML, so a table can
be swapped without touching any model.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from rich.table import Table

from ..core.registry import Registry
from ..patterns.base import Geometry
from .actions import Action, energy_by_group
from .layers import Layer
from .storage import Storage, word_pj

DEFAULT_TABLE = "horowitz_45nm"


@dataclass(frozen=True)
class EnergyTable:
    """Picojoules per action; memory entries are per 32-bit word. ``sources`` says where each
    number comes from (the table's ``source``, or an entry's own in ``sources``)."""

    name: str
    pj: dict[str, float]
    sources: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, source: str | Path | None = None) -> EnergyTable:
        """Load a shipped table by name (default ``horowitz_45nm``) or a YAML file by path."""
        source = DEFAULT_TABLE if source is None else source
        path = Path(source)
        if path.suffix in (".yaml", ".yml") and path.exists():
            text = path.read_text()
        else:
            shipped = resources.files("sparsegrain.hardware") / "energy" / f"{source}.yaml"
            if not shipped.is_file():
                raise ValueError(
                    f"energy table {str(source)!r} is neither a YAML file nor a shipped table; "
                    f"shipped: {', '.join(shipped_tables())}"
                )
            text = shipped.read_text()
        try:
            data = yaml.safe_load(text)
            actions = {str(k): float(v) for k, v in data["actions"].items()}
        except (yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as e:
            raise ValueError(
                f"energy table {str(source)!r} is malformed ({e}); expected a mapping "
                "'actions: {name: picojoules, ...}'"
            ) from None
        try:
            actions = {str(Action.parse(k)): v for k, v in actions.items()}
        except ValueError as e:
            raise ValueError(f"energy table {str(source)!r}: {e}") from None
        bad = [k for k, v in actions.items() if v < 0]
        if bad:
            raise ValueError(f"energy table {str(source)!r}: negative energy for {', '.join(bad)}")
        own = data.get("sources") or {}
        if not isinstance(own, dict) or not set(map(str, own)) <= set(actions):
            extra = sorted(set(map(str, own)) - set(actions)) if isinstance(own, dict) else []
            raise ValueError(f"energy table {str(source)!r}: 'sources' must map the table's "
                             f"actions to where their numbers come from"
                             + (f"; it names {', '.join(extra)}, which the table lacks" if extra else ""))
        default = str(data.get("source", "not stated"))
        sources = {k: str(own.get(k, default)) for k in actions}
        return cls(name=str(data.get("name", path.stem)), pj=actions, sources=sources)


def shipped_tables() -> list[str]:
    """Names of the energy tables shipped with the package."""
    folder = resources.files("sparsegrain.hardware") / "energy"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def price(actions: dict[str, float], table: EnergyTable) -> dict[str, float]:
    """Energy in pJ of each action: count x the table's cost. Unknown actions are an error."""
    missing = [a for a in actions if a not in table.pj]
    if missing:
        raise ValueError(
            f"energy table {table.name!r} has no entry for {', '.join(sorted(missing))}; "
            f"it prices: {', '.join(sorted(table.pj))}"
        )
    return {a: n * table.pj[a] for a, n in actions.items()}


@dataclass
class SimResult:
    """What a model says a layer costs on its machine."""

    accel: str
    cycles: float
    clock_hz: float
    #: counts by :class:`~.actions.Action` (operations, or 32-bit words for memories)
    actions: dict[str, float]
    #: bytes moved, by memory level ("dram", "sram", "rf", ...)
    traffic_bytes: dict[str, float]
    #: useful work / peak work over the run, in [0, 1]
    utilization: float
    #: model-specific figures (e.g. EIE's theoretical time, SCNN's references by kind)
    extras: dict[str, Any] = field(default_factory=dict)
    #: the layer's outputs as the model computed them, for functional checks
    outputs: Any = None
    energy_by_action: dict[str, float] = field(default_factory=dict)
    energy_table: str = ""
    #: the buffers the run used, by name, with the words read and written at each: where a
    #: kind's buffers are declared, their words add up to that kind's memory actions
    storage: dict[str, Storage] = field(default_factory=dict)
    #: how memory accesses were priced (see :mod:`.storage`)
    memory_model: str = ""

    def __post_init__(self) -> None:
        self.actions = {Action.parse(k): v for k, v in self.actions.items()}
        for kind in {s.kind for s in self.storage.values()}:
            for op in ("read", "write"):
                words = sum(getattr(s, f"{op}s") for s in self.storage.values() if s.kind == kind)
                counted = self.actions.get(f"{kind}_{op}", 0.0)
                if not math.isclose(words, counted, rel_tol=1e-9, abs_tol=1e-6):
                    raise ValueError(f"{self.accel}: its {kind} buffers hold {words:g} words "
                                     f"of {op}s, its {kind}_{op} action counts {counted:g}")

    @property
    def time_s(self) -> float:
        return self.cycles / self.clock_hz

    @property
    def energy_pj(self) -> float:
        return float(sum(self.energy_by_action.values()))

    def energy_by_group(self) -> dict[str, float]:
        """Energy (pJ) by group of the action vocabulary: dram, sram, rf, compute, control."""
        return energy_by_group(self.energy_by_action)

    def priced(self, table: EnergyTable, memory: str = "sized") -> SimResult:
        """This result with energies from ``table``; memory accesses of declared buffers priced
        by the buffers' sizes (``memory="sized"``) or by the table's entry per kind (``flat``)."""
        self.energy_by_action = price(self.actions, table)
        for key, pj in self.storage_energy(table, memory).items():
            if key in self.actions:  # a buffer never written adds no write action
                self.energy_by_action[Action.parse(key)] = pj
        self.energy_table, self.memory_model = table.name, memory
        return self

    def storage_energy(self, table: EnergyTable, memory: str = "sized",
                       by: str = "action") -> dict[str, float]:
        """Energy (pJ) of the declared buffers' accesses, summed by memory action
        (``by="action"``: ``sram_read``, ...) or by buffer (``by="buffer"``)."""
        out: dict[str, float] = {}
        for name, store in self.storage.items():
            for op in ("read", "write"):
                key = f"{store.kind}_{op}" if by == "action" else name
                out[key] = out.get(key, 0.0) + getattr(store, f"{op}s") * word_pj(
                    store, op, table.pj, memory)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready figures (no outputs)."""
        return {
            "accel": self.accel,
            "cycles": self.cycles,
            "clock_hz": self.clock_hz,
            "time_s": self.time_s,
            "utilization": self.utilization,
            "energy_pj": self.energy_pj,
            "energy_table": self.energy_table,
            "memory_model": self.memory_model,
            "storage": {k: v.to_dict() for k, v in self.storage.items()},
            "actions": dict(self.actions),
            "energy_by_action": dict(self.energy_by_action),
            "traffic_bytes": dict(self.traffic_bytes),
            "extras": {k: v for k, v in self.extras.items() if _plain(v)},
        }

    def table(self) -> Table:
        """A rich table of the headline figures, actions and their energy."""
        t = Table(title=f"{self.accel}: {self.cycles:,.0f} cycles, {self.time_s * 1e6:,.2f} us, "
                        f"{self.energy_pj / 1e6:,.3f} uJ ({self.energy_table})")
        t.add_column("figure")
        t.add_column("value", justify="right")
        t.add_column("energy (pJ)", justify="right")
        t.add_row("utilization", f"{self.utilization:.3f}", "")
        for k, v in self.extras.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                t.add_row(k, f"{v:,.6g}", "")
        for level, b in self.traffic_bytes.items():
            t.add_row(f"traffic {level} (bytes)", f"{b:,.0f}", "")
        for a, n in self.actions.items():
            t.add_row(a, f"{n:,.0f}", f"{self.energy_by_action.get(a, 0.0):,.1f}")
        return t


def _plain(v: Any) -> bool:
    if isinstance(v, (int, float, str, bool)) or v is None:
        return True
    if isinstance(v, (list, tuple)):
        return all(_plain(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _plain(x) for k, x in v.items())
    return False


class Unsupported(ValueError):
    """A machine declines a layer it cannot run; the message says why, ``reason`` alone too."""

    def __init__(self, machine: str, reason: str) -> None:
        super().__init__(f"{machine} cannot run this layer: {reason}")
        self.reason = reason


class Accelerator(ABC):
    """An accelerator model: machine parameters in the constructor, a :class:`Layer` in
    :meth:`run`.

    Like :class:`~sparsegrain.patterns.Pattern`, a template method: :meth:`run` asks
    :meth:`declines` first, so a layer the machine cannot run raises :class:`Unsupported` with the
    machine's reason, and anything raised inside :meth:`_run` is a real failure.
    """

    #: registry key, set by :func:`register`
    name: str = ""
    #: one-line description for ``sparsegrain simulate --help`` and listings
    summary: str = ""
    #: are ``outputs`` the layer's exact products (False: computed with shared weights)
    exact_outputs: bool = True
    #: does the machine run a recurrent layer's input and recurrent gate matrices as one matrix
    #: [W_ih W_hh] against the joined input [x_t, h_t-1] (a sweep then hands them to it so)
    stacks_gates: bool = False

    @classmethod
    def for_pattern(cls, geometry: Geometry) -> dict[str, Any] | None:
        """Machine parameters built for a pattern's structure (CSP-H's chunk width is the C of
        ``csp:C``), or ``None`` when the machine is not built for that pattern."""
        return None

    def declines(self, layer: Layer) -> str | None:
        """``None`` if this machine can run ``layer``, else the reason it cannot."""
        return None

    def run(self, layer: Layer) -> SimResult:
        """Count cycles and actions for one layer (unpriced)."""
        if not isinstance(layer, Layer):
            raise ValueError(
                f"{self.name}.run takes a sparsegrain.hardware.Layer, got {type(layer).__name__}"
            )
        reason = self.declines(layer)
        if reason is not None:
            raise Unsupported(self.name, reason)
        return self._run(layer)

    @abstractmethod
    def _run(self, layer: Layer) -> SimResult:
        """Cycles and actions of a layer this machine accepts."""


ACCELERATORS: Registry[type[Accelerator]] = Registry("accelerator", attr="name")
#: class decorator adding an accelerator model under its name (``@register("eie")``)
register = ACCELERATORS.register

#: ``simulate`` parameters that describe the layer rather than the machine
LAYER_PARAMS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(Layer) if f.name not in ("weight", "activations")
)


def build(accel: str, **params: Any) -> Accelerator:
    """The machine ``accel`` built from its parameters, or an error listing the ones it takes."""
    cls = ACCELERATORS.lookup(accel)
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(
            f"accelerator {accel} takes no parameter {', '.join(unknown)}; it takes: "
            f"{', '.join(accepted) or 'none'} (and, for the layer, {', '.join(LAYER_PARAMS)})"
        )
    bad = [k for k, v in params.items()
           if isinstance(v, float) and not math.isfinite(v) or isinstance(v, complex)]
    if bad:
        raise ValueError(f"accelerator {accel} parameter {bad[0]}={params[bad[0]]!r} is not a "
                         "finite real number")
    return cls(**params)
