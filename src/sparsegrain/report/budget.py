"""The answer at equal accuracy: within an accuracy budget, how far each pattern gets on each
machine (speedup, energy gain) and in storage (compression), and its ratio to unstructured and to
block pruning at that same budget.

The seed papers compare patterns at equal accuracy, not at equal sparsity. Here a budget is a
drop of the headline metric from dense, in points (hundredths of the metric: 1 point of accuracy
= 0.01; for a lower-is-better metric the budget is a rise). Each pattern's curve starts at the
dense model (sparsity 0, 1x on every machine). Its measured points whose metric stays within the
budget are candidates, and so is the point where the metric crosses the budget between two
neighbouring points of the curve: its sparsity and figures are interpolated between them
(marked interpolated). The best figure over the candidates is what the pattern reaches without
leaving the budget.

Interpolation is linear in what is linear in sparsity: the sparsity itself, and the reciprocals
of the gains (a run's time, energy and size follow the weights kept, 1 - sparsity, so 1/speedup
is the straight line between two points, not speedup). Interpolating a gain linearly would
overstate it wherever the curve bends up, most for the patterns reaching high sparsity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .summary import Entry, Summary

#: accuracy budgets in points of the headline metric (within 0.5, 1 and 2 points of dense)
DEFAULT_BUDGETS: tuple[float, ...] = (0.5, 1.0, 2.0)
#: the machine name for storage (compression ratio of the best exact format)
STORAGE = "storage"


def check_budgets(values: Any) -> tuple[float, ...]:
    """Budgets as positive floats, from a comma-separated string or a sequence."""
    items = [v.strip() for v in values.split(",") if v.strip()] if isinstance(values, str) \
        else list(values)
    out = []
    for v in items:
        try:
            b = float(v)
        except (TypeError, ValueError):
            b = float("nan")
        if not b > 0 or b != b or b == float("inf"):
            raise ValueError(f"budget {v!r} is not a positive number of metric points, e.g. 0.5,1,2")
        out.append(b)
    if not out:
        raise ValueError("no budget given; give positive numbers of metric points, e.g. 0.5,1,2")
    return tuple(out)


@dataclass
class Reach:
    """The best figure a pattern reaches within one budget on one machine."""

    value: float
    sparsity: float
    interpolated: bool


@dataclass
class PatternAnswer:
    """One pattern within one budget: the highest sparsity kept and the best figure by
    machine (``speedup``/``energy_gain`` by accelerator, ``compression`` for storage)."""

    pattern: str
    sparsity: Reach | None
    compression: Reach | None = None
    speedup: dict[str, Reach] = field(default_factory=dict)
    energy_gain: dict[str, Reach] = field(default_factory=dict)


def _figures(e: Entry, machines: list[str], dense: bool = False
             ) -> dict[tuple[str, str], float]:
    """A point's figures by (kind, machine); the dense baseline is 1x on every machine it ran
    (its measured CPU ratio is dense against itself: the timing noise, not a gain)."""
    out: dict[tuple[str, str], float] = {("sparsity", ""): e.sparsity_actual}
    best = e.best_format
    if best is not None:
        out["compression", STORAGE] = best[1]
    for a in machines:
        if dense:
            if a in e.speedup or a in e.accel:
                out["speedup", a] = 1.0
            if a in e.accel:
                out["energy_gain", a] = 1.0
            continue
        if a in e.speedup:
            out["speedup", a] = e.speedup[a]
        if a in e.energy_gain:
            out["energy_gain", a] = e.energy_gain[a]
    return out


def within(summary: Summary, budget: float, e: Entry) -> bool:
    """Whether point ``e`` keeps its metric within ``budget`` points of the dense model's."""
    sign = 1.0 if summary.higher_is_better else -1.0
    return sign * e.accuracy >= sign * summary.dense.accuracy - budget / 100.0


def densest_within(summary: Summary, budget: float, pattern: str) -> Entry | None:
    """``pattern``'s measured point of highest sparsity within ``budget``: the measured end of
    its curve (no interpolation), for figures kept per layer."""
    inside = [e for e in summary.entries if e.pattern == pattern and within(summary, budget, e)]
    return max(inside, key=lambda e: e.sparsity_actual, default=None)


def answer(summary: Summary, budget: float) -> dict[str, PatternAnswer]:
    """Every pattern's best figures within ``budget`` points of the dense metric."""
    sign = 1.0 if summary.higher_is_better else -1.0
    floor = sign * summary.dense.accuracy - budget / 100.0  # in "higher is better" units
    out = {}
    for p in summary.patterns:
        mine = sorted((e for e in summary.entries if e.pattern == p), key=lambda e: e.sparsity_actual)
        # the dense model is the sparsity-0 end of every pattern's curve
        pts = [(summary.dense, _figures(summary.dense, summary.machines, dense=True))]
        pts += [(e, _figures(e, summary.machines)) for e in mine]
        candidates: list[tuple[dict[tuple[str, str], float], bool]] = []
        for i, (e, figs) in enumerate(pts):
            score = sign * e.accuracy
            if score >= floor:
                if i > 0:
                    candidates.append((figs, False))
                nxt = pts[i + 1] if i + 1 < len(pts) else None
                if nxt is not None and sign * nxt[0].accuracy < floor:
                    t = (score - floor) / (score - sign * nxt[0].accuracy)
                    candidates.append((_between(figs, nxt[1], t), True))
        ans = PatternAnswer(p, _best(candidates, ("sparsity", "")))
        ans.compression = _best(candidates, ("compression", STORAGE))
        for a in summary.machines:
            for kind, into in (("speedup", ans.speedup), ("energy_gain", ans.energy_gain)):
                r = _best(candidates, (kind, a))
                if r is not None:
                    into[a] = r
        out[p] = ans
    return out


def _between(a: dict[tuple[str, str], float], b: dict[tuple[str, str], float], t: float
             ) -> dict[tuple[str, str], float]:
    """Figures a fraction ``t`` of the way from point ``a`` to point ``b``: sparsity linearly,
    every gain through its reciprocal (the time, energy or size ratio, linear in the weights
    kept)."""
    out = {}
    for k in a.keys() & b.keys():
        if k[0] == "sparsity":
            out[k] = a[k] + t * (b[k] - a[k])
        else:
            out[k] = 1.0 / (1.0 / a[k] + t * (1.0 / b[k] - 1.0 / a[k]))
    return out


def _best(candidates: list[tuple[dict[tuple[str, str], float], bool]], key: tuple[str, str]
          ) -> Reach | None:
    have = [(f[key], f[("sparsity", "")], interp) for f, interp in candidates if key in f]
    if not have:
        return None
    value, sparsity, interp = max(have, key=lambda c: (c[0], -c[2]))
    return Reach(value, sparsity, interp)


def references(summary: Summary) -> dict[str, str]:
    """The patterns others are compared with: unstructured, and the sweep's first block pattern."""
    refs = {}
    if "unstructured" in summary.patterns:
        refs["unstructured"] = "unstructured"
    block = next((p for p in summary.patterns if p.startswith("block:")), None)
    if block is not None:
        refs["block"] = block
    return refs


def ratio(answers: dict[str, PatternAnswer], pattern: str, ref: str, kind: str, machine: str
          ) -> float | None:
    """``pattern``'s best figure over ``ref``'s on ``machine``, within the same budget."""
    mine, theirs = (_reach(answers[p], kind, machine) for p in (pattern, ref))
    if mine is None or theirs is None or theirs.value <= 0:
        return None
    return mine.value / theirs.value


def _reach(a: PatternAnswer, kind: str, machine: str) -> Reach | None:
    if kind == "compression":
        return a.compression
    return getattr(a, kind).get(machine)


@dataclass
class Winner:
    """The measured point that wins one objective within a budget: its pattern and sparsity,
    the machine it wins on, and its figure (time_s or energy_pj on that machine; compression
    for storage)."""

    pattern: str
    sparsity: float
    machine: str
    value: float


def winners(summary: Summary, budget: float) -> dict[str, Winner]:
    """Within ``budget``, over the measured points (dense included) and every modelled machine
    (each configuration its own): the fastest (least time per inference), the most frugal
    (least energy) and the smallest (best exact compression) (pattern, machine) pair. Absolute
    figures, not gains over each machine's own dense run, so that configurations of one model
    compete on what they deliver; only machines that ran as many of the model's layers as any
    did compete (a machine that declines a layer would look faster for leaving it out)."""
    inside = [e for e in [summary.dense, *summary.entries] if within(summary, budget, e)]
    most = max((len(v) for v in summary.ran.values()), default=0)
    whole = {a for a, layers in summary.ran.items() if len(layers) == most}
    out: dict[str, Winner] = {}
    for objective, field_ in (("fastest", "time_s"), ("most frugal", "energy_pj")):
        runs = [(figs[field_], e, a) for e in inside for a, figs in e.accel.items()
                if a in whole and figs.get(field_) is not None and math.isfinite(figs[field_])]
        if runs:
            value, e, a = min(runs, key=lambda r: (r[0], r[1].sparsity))
            out[objective] = Winner(e.pattern, e.sparsity, a, value)
    sizes = [(e.best_format[1], e) for e in inside if e.best_format is not None]
    if sizes:
        value, e = max(sizes, key=lambda r: (r[0], -r[1].sparsity))
        out["smallest"] = Winner(e.pattern, e.sparsity, e.best_format[0], value)
    return out


def machines(summary: Summary) -> list[tuple[str, str]]:
    """(kind, machine) columns: storage, each accelerator's speedup and energy gain, then the
    measured CPU's speedup."""
    cols = [("compression", STORAGE)]
    for a in summary.accelerators:
        cols += [("speedup", a), ("energy_gain", a)]
    return cols + [("speedup", m) for m in summary.measured]


def to_json(summary: Summary, budgets: tuple[float, ...]) -> dict[str, Any]:
    """The equal-accuracy answer as plain data, by budget and pattern."""
    out: dict[str, Any] = {}
    refs = references(summary)
    for b in budgets:
        answers = answer(summary, b)
        per: dict[str, Any] = {}
        for p, a in answers.items():
            cells = {f"{k}:{m}": _plain(_reach(a, k, m)) for k, m in machines(summary)}
            per[p] = {
                "sparsity": _plain(a.sparsity), **cells,
                **{f"vs_{name}": {f"{k}:{m}": ratio(answers, p, ref, k, m)
                                  for k, m in machines(summary)} for name, ref in refs.items()},
            }
        out[f"{b:g}"] = per
    return out


def _plain(r: Reach | None) -> dict[str, Any] | None:
    return None if r is None else {"value": r.value, "sparsity": r.sparsity,
                                   "interpolated": r.interpolated}
