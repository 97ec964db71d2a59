"""The report page's interactive fronts: the sweep's points as plain data, drawn in the browser
by plotly.js (embedded whole, so the page works with no network), one small chart per machine.

Python decides every figure a chart shows (each point's value on each machine, its hover text,
the budget lines); ``glance.js`` only lays them out and redraws when the reader toggles machines,
patterns or budgets, or switches between speedup and energy gain. Pareto fronts are recomputed
in the page over the patterns shown, by the same rule as :func:`.pareto.pareto_front`.
"""

from __future__ import annotations

import json
import math
from functools import cache
from importlib.resources import files
from typing import Any

from matplotlib import colors

from .plots import dense_machine, style_of
from .summary import Entry, Summary

#: plotly's name for each matplotlib marker of :data:`.plots.MARKERS`, so a pattern looks alike
#: in the static plots and in the page
SYMBOLS = dict(zip("osD^v<>phX*", ("circle", "square", "diamond", "triangle-up", "triangle-down",
                                   "triangle-left", "triangle-right", "pentagon", "hexagon",
                                   "x", "star")))
#: the element ids the page and its tests rely on
DATA_ID, ROOT_ID = "sg-data", "sg-glance"


def panels(summary: Summary) -> list[dict[str, Any]]:
    """One chart per machine that gains something (storage first): its key, title and the
    figures it can show, as (kind, axis label)."""
    out: list[dict[str, Any]] = [{"key": "storage", "title": "storage",
                                  "kinds": [["compression", "compression over 16-bit dense "
                                                            "(best exact format)"]]}]
    for m in summary.machines:
        if dense_machine(summary, m):
            continue
        kinds = [["speedup", "speedup over dense" + (" (measured)" if m in summary.measured
                                                    else " (cycles)")]]
        if any(m in e.energy_gain for e in summary.entries):
            kinds.append(["energy_gain", "energy gain over dense"])
        out.append({"key": m, "title": m, "kinds": kinds})
    return out


def _value(e: Entry, panel: str, kind: str) -> float | None:
    v = e.figure(kind, panel)
    return v if math.isfinite(v) and v > 0 else None


def _hover(summary: Summary, e: Entry, panel: str) -> str:
    """What a point says when the reader points at it in ``panel``."""
    best = e.best_format
    lines = [f"<b>{e.pattern}</b> at {e.sparsity:g} (actual {e.sparsity_actual:.3f})",
             f"{summary.metric} {e.accuracy:.4f} ({e.accuracy - summary.dense.accuracy:+.4f})",
             f"best format {best[0]} {best[1]:.2f}x" if best else "no exact format"]
    if panel in e.speedup:
        lines.append(f"{panel}: {e.speedup[panel]:.2f}x speedup"
                     + (f", {e.energy_gain[panel]:.2f}x energy" if panel in e.energy_gain else ""))
    figures = e.accel.get(panel) or {}
    if "time_s" in figures:
        lines.append(f"{figures['time_s'] * 1e6:.3g} us, {figures['energy_pj'] * 1e-6:.3g} uJ "
                     "an inference")
    if panel in e.left_dense:
        lines.append(f"left dense: {e.left_dense[panel]}")
    return "<br>".join(lines)


def chart_data(summary: Summary) -> dict[str, Any]:
    """Everything the page draws, as JSON-ready data."""
    shown = panels(summary)
    style = style_of(summary)
    points = []
    for e in summary.entries:
        x = {f"{p['key']}/{k}": v for p in shown for k, _ in p["kinds"]
             if (v := _value(e, p["key"], k)) is not None}
        points.append({"pattern": e.pattern, "sparsity": e.sparsity, "accuracy": e.accuracy,
                       "x": x, "hover": {p["key"]: _hover(summary, e, p["key"]) for p in shown}})
    sign = -1.0 if summary.higher_is_better else 1.0
    return {"model": summary.model, "metric": summary.metric,
            "higher_is_better": summary.higher_is_better, "dense": summary.dense.accuracy,
            "budgets": [{"points": b, "y": summary.dense.accuracy + sign * b / 100.0}
                        for b in summary.budgets],
            "patterns": [{"name": p, "colour": colors.to_hex(style[p][0]),
                          "symbol": SYMBOLS[style[p][1]]} for p in summary.patterns],
            "panels": shown, "points": points,
            "folded": [m for m in summary.machines if dense_machine(summary, m)]}


@cache
def _asset(name: str) -> str:
    return files(__package__).joinpath(name).read_text(encoding="utf-8")


@cache
def plotly_js() -> str:
    """plotly.js, minified, as the installed plotly package ships it."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element (no ``</`` can close it early)."""
    return json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")


def glance_html(summary: Summary) -> str:
    """The interactive charts as one HTML fragment: the controls' box, the data, plotly.js
    and the page's own script."""
    return (f"<div id=\"{ROOT_ID}\"></div>"
            f"<script type=\"application/json\" id=\"{DATA_ID}\">"
            f"{_script_json(chart_data(summary))}</script>"
            f"<script>{plotly_js()}</script><script>{_asset('glance.js')}</script>")
