"""Stored sweeps' patterns compared at equal accuracy, as the studies that read them show it: one
table over every network swept (one ``sparsegrain tradeoff`` folder each), and per-layer detail."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..report.budget import STORAGE, answer, densest_within, ratio
from ..report.summary import Summary


def folders(spec: str | Path) -> list[str]:
    """The sweep folders of a ``--from`` value: one, or several separated by commas."""
    out = [s.strip() for s in str(spec).split(",") if s.strip()]
    if not out:
        raise ValueError("--from names no folder; give a `sparsegrain tradeoff` output folder "
                         "or several separated by commas")
    return out


def _load(store: str, machine: str) -> tuple[Summary, Any]:
    from ..report.sweep_report import load_summary

    summary, config = load_summary(store)
    if machine != STORAGE and machine not in summary.accelerators:
        raise ValueError(f"the sweep in {store} did not simulate {machine}; it ran "
                         f"{', '.join(summary.accelerators) or 'no machine'} (sweep again with "
                         f"--accelerators {machine})")
    return summary, config


def _cell(v: float | None, suffix: str = "x") -> str:
    return "—" if v is None else f"{v:.2f}{suffix}"


def ratio_table(
    stores: list[str], machine: str, kind: str, subject: Callable[[str], bool],
    against: Callable[[str], bool], budgets: tuple[float, ...] = (0.5, 1.0, 2.0),
    wanted: str = "the patterns compared",
) -> list[str]:
    """Markdown: per network, budget and subject pattern, the sparsity it keeps within the budget,
    its best ``kind`` figure on ``machine`` (``speedup``/``energy_gain``, or ``compression`` on
    storage) and that figure over each ``against`` pattern's within the same budget. A sweep
    holding no subject pattern (``wanted`` names them) is a ValueError."""
    loaded = [_load(store, machine) for store in stores]
    for store, (summary, _) in zip(stores, loaded):
        if not any(subject(p) for p in summary.patterns):
            raise ValueError(f"the sweep in {store} holds none of {wanted} (it swept "
                             f"{', '.join(summary.patterns)}); sweep them with --patterns")
    others = list(dict.fromkeys(p for s, _ in loaded for p in s.patterns if against(p)))
    head = ["network", "dense metric", "budget", "pattern", "sparsity kept",
            f"{machine} {kind}", *(f"over {p}" for p in others)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for summary, config in loaded:
        dense = f"{summary.metric} {summary.dense.accuracy:.4f}"
        for b in budgets:
            answers = answer(summary, b)
            for p in (p for p in summary.patterns if subject(p)):
                a = answers[p]
                reach = a.compression if kind == "compression" else getattr(a, kind).get(machine)
                kept = "—" if a.sparsity is None else (
                    f"{a.sparsity.value:.3f}{'~' if a.sparsity.interpolated else ''}")
                vs = [ratio(answers, p, o, kind, machine) if o in answers else None for o in others]
                lines.append("| " + " | ".join([
                    config.model, dense, f"{b:g}", p, kept,
                    _cell(None if reach is None else reach.value), *map(_cell, vs)]) + " |")
    return [
        f"**At equal accuracy** ({', '.join(f'`{s}`' for s in stores)}; budgets in points of "
        "each network's metric below its dense model; `~`: the budget is crossed between two "
        "measured sparsities and the figures are interpolated there, the gains through their "
        "reciprocals, which are linear in the weights kept; `—`: the pattern reached no point "
        "within the budget or the machine did not run it):",
        "\n".join(lines),
    ]


def layer_table(store: str, machine: str, subject: Callable[[str], bool],
                against: Callable[[str], bool], budget: float = 1.0) -> list[str]:
    """Markdown: per layer, ``machine``'s speedup over dense of the sweep's first ``subject``
    pattern and of each ``against`` pattern at their densest measured points within ``budget``,
    and the ratios; nothing when the sweep holds no subject pattern."""
    summary, config = _load(store, machine)
    first = next((p for p in summary.patterns if subject(p)), None)
    if first is None:
        return []
    return _layer_rows(summary, config, store, machine, first,
                       [p for p in summary.patterns if against(p)], budget)


def _layer_rows(summary: Summary, config: Any, store: str, machine: str, subject: str,
                against: list[str], budget: float) -> list[str]:
    points = {p: densest_within(summary, budget, p) for p in [subject, *against]}
    if points.get(subject) is None:
        return [f"Per layer ({config.model}): {subject} has no measured point within {budget:g} "
                "point(s) of dense."]
    dense = summary.dense.layer_cycles.get(machine, {})
    cols = [p for p, e in points.items() if e is not None]
    head = ["layer", *(f"{p} @ {points[p].sparsity_actual:.2f}" for p in cols),  # type: ignore[union-attr]
            *(f"{subject} over {p}" for p in cols if p != subject)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for layer, base in dense.items():
        speed = {p: base / points[p].layer_cycles[machine][layer]  # type: ignore[union-attr]
                 for p in cols if layer in points[p].layer_cycles.get(machine, {})}  # type: ignore[union-attr]
        lines.append("| " + " | ".join([
            layer, *(_cell(speed.get(p)) for p in cols),
            *(_cell(speed[subject] / speed[p] if subject in speed and p in speed else None)
              for p in cols if p != subject)]) + " |")
    return [
        f"Per layer ({config.model}, `{store}`, {machine} cycles of dense over each pattern's "
        f"densest measured point within {budget:g} point(s) of dense, sparsity after `@`):",
        "\n".join(lines),
    ]
