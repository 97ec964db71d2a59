"""From stored rows to the figures a report shows: one entry per (pattern, sparsity), averaged
over seeds, with the best compression ratio, each accelerator's speedup and energy gain over
the dense baseline on the same accelerator, and the speedup measured on the sweep's CPU."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..experiments.config import DENSE
from ..experiments.store import OK, Row

ACCURACY, FORMAT, ACCELERATOR, CPU = "accuracy", "format", "accelerator", "cpu"


@dataclass
class Entry:
    """One (pattern, sparsity) of the sweep, averaged over its seeds."""

    pattern: str
    sparsity: float
    accuracy: float
    sparsity_actual: float
    seeds: int
    #: compression ratio by format (formats that accepted every layer)
    compression: dict[str, float] = field(default_factory=dict)
    #: formats that did not decode back exactly (quantising ones, e.g. a codebook)
    lossy: set[str] = field(default_factory=set)
    #: dense cycles / cycles, by accelerator; dense / sparse latency measured for ``cpu``
    speedup: dict[str, float] = field(default_factory=dict)
    #: dense energy / energy, by accelerator
    energy_gain: dict[str, float] = field(default_factory=dict)
    #: raw accelerator figures (cycles, time_s, energy_pj), by accelerator
    accel: dict[str, dict[str, float]] = field(default_factory=dict)
    #: cycles of each layer, by accelerator then layer (mean over seeds)
    layer_cycles: dict[str, dict[str, float]] = field(default_factory=dict)
    left_dense: dict[str, str] = field(default_factory=dict)
    #: measured latency on the sweep's CPU: dense_ms and sparse_ms (medians, same run)
    cpu: dict[str, float] = field(default_factory=dict)
    #: the metric of each seed
    values: list[float] = field(default_factory=list)

    @property
    def spread(self) -> float:
        """Largest minus smallest metric over the seeds (0 with one seed)."""
        return max(self.values) - min(self.values) if self.values else 0.0

    @property
    def label(self) -> str:
        return f"{self.pattern} @ {self.sparsity:g}"

    @property
    def best_format(self) -> tuple[str, float] | None:
        """The exact (lossless) format with the highest compression ratio, and that ratio: the
        metric was measured on the exact weights, so quantising formats do not compete."""
        exact = {f: r for f, r in self.compression.items() if f not in self.lossy}
        if not exact:
            return None
        fmt = max(exact, key=exact.get)
        return fmt, exact[fmt]

    def figure(self, kind: str, machine: str = "") -> float:
        """What this point reaches: ``compression`` (the best exact format's ratio), or its
        ``speedup`` or ``energy_gain`` on ``machine``; NaN where it has no such figure."""
        if kind == "compression":
            return (self.best_format or ("", math.nan))[1]
        return getattr(self, kind).get(machine, math.nan)


@dataclass
class Summary:
    """Everything a report needs, computed from rows."""

    model: str
    metric: str
    higher_is_better: bool
    dense: Entry
    entries: list[Entry]
    formats: list[str]
    accelerators: list[str]
    layers: list[str]
    #: (kind, target, pattern, sparsity) -> reason, for every measurement not applicable
    not_applicable: dict[tuple[str, str, str, float], str]
    #: accuracy budgets (points of the metric) of the equal-accuracy answer
    budgets: tuple[float, ...] = (0.5, 1.0, 2.0)
    #: machines timed for real rather than modelled (``cpu``), speedup only
    measured: list[str] = field(default_factory=list)
    #: the share of the model's weights the measured layers hold (None in older stores)
    measured_share: float | None = None
    #: the model in figures (:meth:`~sparsegrain.workloads.Workload.card`; None in older stores)
    card: dict[str, Any] | None = None
    #: the layers each accelerator ran in the dense baseline (others it declined)
    ran: dict[str, list[str]] = field(default_factory=dict)
    #: the interleaved rounds each CPU median is taken over, as the rows record them (several
    #: counts where rows differ, none where no row records it)
    cpu_rounds: list[int] = field(default_factory=list)

    def score(self, e: Entry) -> float:
        """Accuracy oriented so that higher is better (for Pareto fronts)."""
        return e.accuracy if self.higher_is_better else -e.accuracy

    @property
    def noise(self) -> float:
        """The seeds' spread: the largest spread of the metric over seeds at any point."""
        return max(e.spread for e in [self.dense, *self.entries])

    def beats_dense(self) -> list[Entry]:
        """Pruned points better than the dense baseline by more than the seeds' spread: a sign
        that the baseline is not the model the points were pruned from (a baseline trained less,
        an evaluation that varies), which the report flags."""
        return [e for e in self.entries if self.score(e) - self.score(self.dense) > self.noise]

    @property
    def machines(self) -> list[str]:
        """Every machine with a speedup: the modelled accelerators, then the measured CPU."""
        return [*self.accelerators, *self.measured]

    @property
    def patterns(self) -> list[str]:
        return list(dict.fromkeys(e.pattern for e in self.entries))

    @property
    def sparsities(self) -> list[float]:
        return sorted({e.sparsity for e in self.entries})


def summarize(rows: Iterable[Row]) -> Summary:
    """Average the rows of each (pattern, sparsity) over seeds; speedups are per seed against
    that seed's dense baseline, then averaged. Raises ValueError if the rows hold no dense
    baseline or mix models."""
    rows = list(rows)
    models = sorted({r.model for r in rows})
    if len(models) != 1:
        raise ValueError(f"a report covers one model; the rows hold {models or 'none'}")
    failed = {(r.pattern, r.sparsity, r.seed) for r in rows
              if r.kind == ACCURACY and r.status != OK}
    # a failed point has no figures
    kept = [r for r in rows if (r.pattern, r.sparsity, r.seed) not in failed]
    by_point: dict[tuple[str, float], list[Row]] = defaultdict(list)
    for r in kept:
        by_point[r.pattern, r.sparsity].append(r)
    dense_rows = by_point.pop((DENSE, 0.0), None)
    if not dense_rows:
        raise ValueError("the rows hold no dense baseline")
    base = {(r.kind, r.target, r.seed): r.result for r in dense_rows if r.status == OK}
    acc = next(r for r in dense_rows if r.kind == ACCURACY)
    not_applicable = {
        (r.kind, r.target, r.pattern, r.sparsity): r.result["reason"]
        for r in rows if r.status != OK
    }
    for r in rows:
        for layer, why in r.result.get("rejected", {}).items() if r.status == OK else ():
            not_applicable[r.kind, f"{r.target} (layer {layer} only)", r.pattern, r.sparsity] = why
    return Summary(
        model=models[0],
        metric=acc.result["metric"],
        higher_is_better=bool(acc.result["higher_is_better"]),
        dense=_entry(DENSE, 0.0, dense_rows, base),
        entries=[_entry(p, s, by_point[p, s], base) for p, s in _in_order(by_point)],
        formats=list(dict.fromkeys(r.target for r in rows if r.kind == FORMAT)),
        accelerators=list(dict.fromkeys(r.target for r in rows if r.kind == ACCELERATOR)),
        layers=list(acc.result["layer_sparsity"]),
        measured_share=acc.result.get("measured_share"),
        card=acc.result.get("model_card"),
        not_applicable=not_applicable,
        measured=[CPU] if any(r.kind == CPU for r in rows) else [],
        ran={r.target: list(r.result.get("layers", {})) for r in dense_rows
             if r.kind == ACCELERATOR and r.status == OK},
        cpu_rounds=sorted({r.result["rounds"] for r in kept
                           if r.kind == CPU and r.status == OK and "rounds" in r.result}),
    )


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def _common(dense: dict, pruned: dict) -> tuple[dict, dict] | None:
    """Cycles and energy of dense and pruned summed over the layers both ran (an accelerator
    may reject some layers), or None if they share none."""
    both = [n for n in pruned["layers"] if n in dense["layers"]]
    if not both:
        return None
    return tuple({k: sum(d["layers"][n][k] for n in both) for k in ("cycles", "energy_pj")}
                 for d in (dense, pruned))


def _in_order(points: dict[tuple[str, float], Any]) -> list[tuple[str, float]]:
    """The points as the sweep lists them: patterns in order of first appearance, each one's
    sparsities rising (workers store points in the order they finish)."""
    first = {p: i for i, p in reversed(list(enumerate(p for p, _ in points)))}
    return sorted(points, key=lambda ps: (first[ps[0]], ps[1]))


def _entry(pattern: str, sparsity: float, rows: list[Row], base: dict) -> Entry:
    accs = [r for r in rows if r.kind == ACCURACY]
    ok = [r for r in rows if r.status == OK]
    e = Entry(
        pattern=pattern,
        sparsity=sparsity,
        accuracy=_mean([r.result["value"] for r in accs]),
        sparsity_actual=_mean([r.result["sparsity_actual"] for r in accs]),
        seeds=len(accs),
        values=[r.result["value"] for r in accs],
        left_dense={k: v for r in accs for k, v in r.result.get("left_dense", {}).items()},
    )
    for target in dict.fromkeys(r.target for r in ok if r.kind == FORMAT):
        mine = [r.result for r in ok if r.kind == FORMAT and r.target == target]
        e.compression[target] = _mean([r["compression_ratio"] for r in mine])
        if not all(r.get("exact", True) for r in mine):
            e.lossy.add(target)
    for target in dict.fromkeys(r.target for r in ok if r.kind == ACCELERATOR):
        mine = [r for r in ok if r.kind == ACCELERATOR and r.target == target]
        e.accel[target] = {k: _mean([r.result[k] for r in mine])
                           for k in ("cycles", "time_s", "energy_pj")}
        e.layer_cycles[target] = {n: _mean([r.result["layers"][n]["cycles"] for r in mine])
                                  for n in mine[0].result.get("layers", {})
                                  if all(n in r.result.get("layers", {}) for r in mine)}
        pairs = [_common(base[ACCELERATOR, target, r.seed], r.result) for r in mine
                 if (ACCELERATOR, target, r.seed) in base]
        pairs = [p for p in pairs if p is not None]
        if pairs:
            e.speedup[target] = _mean([b["cycles"] / max(r["cycles"], 1e-30) for b, r in pairs])
            e.energy_gain[target] = _mean(
                [b["energy_pj"] / max(r["energy_pj"], 1e-30) for b, r in pairs])
    timed = [r.result for r in ok if r.kind == CPU]
    if timed:
        e.speedup[CPU] = _mean([r["speedup"] for r in timed])
        e.cpu = {k: _mean([r[k] for r in timed]) for k in ("dense_ms", "sparse_ms")}
        e.cpu["noise"] = max((r.get("noise", 0.0) for r in timed), default=0.0)
        e.cpu["identical"] = all(r.get("identical", False) for r in timed)
        e.cpu["channels_cut"] = _mean([r.get("channels_cut", 0) for r in timed])
    return e

