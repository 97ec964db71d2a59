"""The report as a list of blocks (headings, paragraphs, tables, images), rendered twice: to
``report.md`` beside PNG files in ``plots/``, and to a self-contained ``report.html`` with the
same PNGs embedded as base64."""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.files import write_atomic
from ..core.tables import markdown_table
from ..experiments.config import DENSE
from ..prune.allocation import ALLOCATIONS
from . import budget
from .interactive import glance_html
from .pareto import pareto_front
from .plots import all_plots, write_images
from .summary import Entry, Summary

REPORT_MD, REPORT_HTML, PLOTS_DIR = "report.md", "report.html", "plots"


@dataclass
class ReportBlock:
    """One piece of the report: ``kind`` is h1, h2, p, ul, table, img or glance (the
    interactive charts: ``markup`` in the page, a pointer to it in Markdown)."""

    kind: str
    text: str = ""
    items: list[str] | None = None
    head: list[str] | None = None
    body: list[list[str]] | None = None
    #: a plot's bytes by image type (png, pdf)
    images: dict[str, bytes] | None = None
    stem: str = ""
    markup: str = ""


def _model_card(summary: Summary) -> list[ReportBlock]:
    """The model in figures: what it is, its size, its layers by kind, its metric and value."""
    card = summary.card
    if not card:
        return []
    layers = ", ".join(f"{n} {k}" for k, n in sorted(card["layers"].items(), key=lambda kv: -kv[1]))
    direction = "higher is better" if card.get("higher_is_better", True) else "lower is better"
    evaluated = card.get("evaluation") or "the model's evaluation set"
    return [ReportBlock("p", (
        f"**Model:** {card.get('description') or summary.model}. {card['parameters']:,} "
        f"parameters, {card['weights']:,} of them in weight matrices and kernels; layers: "
        f"{layers}. Metric: {card['metric']} ({direction}), dense "
        f"{summary.dense.accuracy:.4f} on {evaluated}."))]


def _measured(e: Entry, machine: str) -> str:
    """A measured speedup with its noise (``1.31x ±4%``); where every layer stayed dense,
    the same model, said as such (``1x dense kept, ±3%``)."""
    value = e.speedup.get(machine)
    if value is None:
        return "n/a"
    noise = f"±{e.cpu['noise']:.0%}" if e.cpu.get("noise") else ""
    if e.cpu.get("identical"):
        return f"1x dense kept{', ' + noise if noise else ''}"
    return f"{value:.2f}x{' ' + noise if noise else ''}"


def _num(v: float | None, fmt: str = ".3g", suffix: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:{fmt}}{suffix}"


def _time_energy(figures: dict[str, float] | None) -> str:
    if not figures:
        return "n/a"
    return f"{figures['time_s'] * 1e6:.3g} / {figures['energy_pj'] * 1e-6:.3g}"


def fronts(summary: Summary) -> dict[str, set[int]]:
    """Indices of entries on each Pareto front: accuracy vs compression, and vs each
    machine's speedup and each accelerator's energy gain (over all sparsities)."""
    axes: dict[str, dict[int, float]] = {
        "compression": {i: e.figure("compression") for i, e in enumerate(summary.entries)}}
    for a in summary.machines:
        axes[f"{a} speedup"] = {i: e.figure("speedup", a) for i, e in enumerate(summary.entries)}
    for a in summary.accelerators:
        axes[f"{a} energy"] = {i: e.figure("energy_gain", a)
                               for i, e in enumerate(summary.entries)}
    return {name: _front(summary, list(range(len(summary.entries))), values)
            for name, values in axes.items()}


def _front(summary: Summary, idx: list[int], values: dict[int, float]) -> set[int]:
    idx = [i for i in idx if math.isfinite(values.get(i, math.nan))]
    picked = pareto_front([values[i] for i in idx], [summary.score(summary.entries[i]) for i in idx])
    return {idx[k] for k in picked}


#: a point whose actual sparsity is this far from its target (N:M fixes it at 1 - N/M) is left
#: out of the comparison at that target
REACHED = 0.02


def fronts_by_sparsity(summary: Summary) -> list[list[str]]:
    """At each sparsity, the patterns on the front of accuracy vs compression and vs each
    accelerator's speedup, among the points that reached that target sparsity."""
    rows = []
    for s in summary.sparsities:
        idx = [i for i, e in enumerate(summary.entries)
               if e.sparsity == s and abs(e.sparsity_actual - s) <= REACHED]
        comp = {i: summary.entries[i].figure("compression") for i in idx}
        cells = [f"{s:g}", _names(summary, _front(summary, idx, comp))]
        for a in summary.machines:
            speed = {i: summary.entries[i].figure("speedup", a) for i in idx}
            cells.append(_names(summary, _front(summary, idx, speed)))
        rows.append(cells)
    return rows


def _names(summary: Summary, idx: set[int]) -> str:
    return ", ".join(summary.entries[i].pattern for i in sorted(idx)) or "n/a"


def _front_marks(names: list[str]) -> str:
    """``★ size; eie speed+energy`` from front names ``compression``, ``eie speedup``, ..."""
    if not names:
        return ""
    parts: dict[str, list[str]] = {}
    for n in names:
        target, _, axis = n.rpartition(" ")
        parts.setdefault(target or "size", []).append(axis.replace("speedup", "speed"))
    return "★ " + "; ".join(t if t == "size" else f"{t} {'+'.join(a)}" for t, a in parts.items())


def main_table(summary: Summary, on_front: dict[str, set[int]]) -> tuple[list[str], list[list[str]]]:
    """One row per point: metric, change from dense, best format, and per accelerator the
    speedup and energy gain; a star marks a point on any Pareto front."""
    head = ["pattern", "sparsity", "actual", summary.metric, "vs dense", "best format",
            "compression"]
    for a in summary.accelerators:
        head += [f"{a} speedup", f"{a} energy"]
    head += [f"{m} speedup (measured)" for m in summary.measured]
    head.append("Pareto")

    def row(e: Entry, i: int | None) -> list[str]:
        best = e.best_format
        cells = [e.pattern, f"{e.sparsity:g}", f"{e.sparsity_actual:.3f}", f"{e.accuracy:.4f}",
                 f"{e.accuracy - summary.dense.accuracy:+.4f}", best[0] if best else "n/a",
                 _num(best[1] if best else None, ".2f", "x")]
        for a in summary.accelerators:
            cells += [_num(e.speedup.get(a), ".2f", "x"), _num(e.energy_gain.get(a), ".2f", "x")]
        cells += [_measured(e, m) for m in summary.measured]
        cells.append(_front_marks([n for n, idx in on_front.items() if i is not None and i in idx]))
        return cells

    body = [row(summary.dense, None)]
    body += [row(e, i) for i, e in enumerate(summary.entries)]
    return head, body


def to_json(summary: Summary) -> dict[str, Any]:
    """The report's figures as plain data: the dense baseline, then one entry per point with
    the fronts it is on."""
    on_front = fronts(summary)

    def entry(e: Entry, i: int | None) -> dict[str, Any]:
        return {"pattern": e.pattern, "sparsity": e.sparsity, "sparsity_actual": e.sparsity_actual,
                summary.metric: e.accuracy, "seeds": e.seeds, "compression": e.compression,
                "quantising_formats": sorted(e.lossy),
                "speedup": e.speedup, "energy_gain": e.energy_gain, "accelerators": e.accel,
                "cpu_ms": e.cpu, "left_dense": e.left_dense,
                "pareto": [n for n, idx in on_front.items() if i is not None and i in idx]}

    return {"model": summary.model, "metric": summary.metric,
            "equal_accuracy": budget.to_json(summary, summary.budgets),
            "dense": entry(summary.dense, None),
            "points": [entry(e, i) for i, e in enumerate(summary.entries)]}


def _reach_cell(r: budget.Reach | None, kind: str) -> str:
    if r is None:
        return "–"
    text = f"{r.value:.1%}" if kind == "sparsity" else f"{r.value:.2f}x"
    return text + ("~" if r.interpolated else "")


def _label(kind: str, machine: str) -> str:
    return {"compression": "compression", "speedup": f"{machine} speedup",
            "energy_gain": f"{machine} energy"}[kind]


def _scaled(value: float, unit: str) -> str:
    """``value`` (seconds or joules) with the SI prefix that puts it in [1, 1000)."""
    for factor, prefix in ((1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value / 1e-12:.3g} p{unit}"


def answer_sentence(summary: Summary, b: float) -> str:
    """The budget's answer in one sentence: the (pattern, machine) pair that is fastest, most
    frugal and smallest among the measured points within it."""
    won = budget.winners(summary, b)
    if not won:
        return f"Within {b:g} point(s) of dense: no measured point."

    def point(w: budget.Winner) -> str:
        return "dense" if w.pattern == DENSE else f"{w.pattern} at {w.sparsity:.0%}"

    parts = []
    if "fastest" in won:
        w = won["fastest"]
        parts.append(f"fastest: {point(w)} on {w.machine}, {_scaled(w.value, 's')} an inference")
    if "most frugal" in won:
        w = won["most frugal"]
        parts.append(f"most frugal: {point(w)} on {w.machine}, {_scaled(w.value * 1e-12, 'J')}")
    if "smallest" in won:
        w = won["smallest"]
        parts.append(f"smallest: {point(w)} in {w.machine}, {w.value:.2f}x compression over "
                     "16-bit dense weights")
    return f"**Within {b:g} point(s) of dense** ({'; '.join(parts)})."


def _flat(answers: dict[str, budget.PatternAnswer], cols: list[tuple[str, str]]
          ) -> list[tuple[str, str]]:
    """The machine columns that say nothing within a budget: 1.00x for every pattern."""
    return [c for c in cols if c[0] != "compression" and all(
        r is None or abs(r.value - 1.0) < 5e-3 for r in (budget._reach(a, *c) for a in answers.values()))]


def _folded(flat: list[tuple[str, str]]) -> list[ReportBlock]:
    if not flat:
        return []
    return [ReportBlock("p", "Not shown, 1.00x for every pattern within the budget (the machine "
                        "gains nothing from these zeros, or every layer stayed dense): "
                        + ", ".join(_label(k, m) for k, m in flat) + ".")]


def winners_table(summary: Summary, b: float) -> ReportBlock:
    """Within budget ``b``, the pattern that goes furthest on each machine and objective: its
    sparsity there and its figure (compression, speedup or energy gain over dense)."""
    answers = budget.answer(summary, b)
    cols = budget.machines(summary)
    flat = _flat(answers, cols)
    body = []
    for kind, machine in cols:
        if (kind, machine) in flat:
            continue
        reached = [(p, r) for p, a in answers.items() if (r := budget._reach(a, kind, machine))]
        if not reached:
            continue
        p, r = max(reached, key=lambda pr: (pr[1].value, -pr[1].sparsity))
        body.append([machine, {"compression": "compression", "speedup": "speedup",
                               "energy_gain": "energy gain"}[kind], p,
                     f"{r.sparsity:.1%}" + ("~" if r.interpolated else ""), _reach_cell(r, kind)])
    return ReportBlock("table", head=["on", "best", "pattern", "sparsity", "reaches"], body=body)


def answer_first(summary: Summary) -> list[ReportBlock]:
    """The report's opening: per budget, the answer in one sentence and the winning pattern on
    each machine and objective; then the interactive fronts (the HTML page only)."""
    sign = "below" if summary.higher_is_better else "above"
    out = [ReportBlock("h2", "The answer"),
           ReportBlock("p", f"Budgets are points of {summary.metric} {sign} dense "
                       f"({summary.dense.accuracy:.4f}); each winner is the pattern that goes "
                       "furthest on that machine without leaving the budget (`~`: between two "
                       "measured points, interpolated).")]
    for b in summary.budgets:
        out += [ReportBlock("p", answer_sentence(summary, b)), winners_table(summary, b)]
    out.append(ReportBlock("glance", "Every point on every machine: point at one for its "
                           "figures; the boxes toggle machines, patterns and budgets",
                           markup=glance_html(summary)))
    return out


def equal_accuracy(summary: Summary) -> list[ReportBlock]:
    """Every pattern within each budget: its best on every machine, and its ratio to
    unstructured and to block at the same budget."""
    cols = budget.machines(summary)
    refs = budget.references(summary)
    out = [ReportBlock("h2", "Every pattern at equal accuracy"),
           ReportBlock("p", "Within each budget, the highest sparsity each pattern keeps and "
                       "the best compression (exact formats), speedup and energy gain it reaches "
                       "on each machine without leaving the budget. `~`: interpolated linearly "
                       "along sparsity between the last point inside the budget and the first "
                       "outside (the dense model is the curve's sparsity-0 end, 1x everywhere); "
                       "`–`: the machine has no figure for the pattern.")]
    for b in summary.budgets:
        answers = budget.answer(summary, b)
        flat = _flat(answers, cols)
        shown = [c for c in cols if c not in flat]
        head = ["pattern", "sparsity", *(_label(k, m) for k, m in shown)]
        body = [[p, _reach_cell(a.sparsity, "sparsity"),
                 *(_reach_cell(budget._reach(a, k, m), k) for k, m in shown)]
                for p, a in answers.items()]
        out += [ReportBlock("p", f"**Within {b:g} point(s) of dense**"),
                ReportBlock("table", head=head, body=body), *_folded(flat)]
        if refs:
            rcols = [c for c in shown if c[0] != "energy_gain"]
            rhead = ["pattern", *(f"{_label(k, m)} vs {name}" for k, m in rcols for name in refs)]
            rbody = [[p, *(_num(budget.ratio(answers, p, ref, k, m), ".2f", "x")
                           for k, m in rcols for ref in refs.values())] for p in answers]
            out += [ReportBlock("p", f"Ratios at equal accuracy (within {b:g} point(s)): a "
                               "pattern's best over that of "
                               + " and of ".join(f"{name} ({ref})" for name, ref in refs.items())),
                    ReportBlock("table", head=rhead, body=rbody)]
    return out


def blocks(summary: Summary, config: dict[str, Any] | None = None) -> list[ReportBlock]:
    """The report's content, in order: the answer at equal accuracy first."""
    cfg = config or {}
    out = _baseline(summary)
    out += answer_first(summary)
    out += equal_accuracy(summary)
    out.append(_settings(summary, cfg))
    out += _results(summary)
    out.append(ReportBlock("h2", "Plots"))
    for stem, (title, images) in all_plots(summary).items():
        out.append(ReportBlock("img", text=title, images=images, stem=stem))
    out += _accelerator_table(summary)
    out += _cpu_table(summary, cfg)
    out += _compression_table(summary)
    out += _left_out(summary)
    return out


def _baseline(summary: Summary) -> list[ReportBlock]:
    """The title, the dense baseline, and a warning if pruned points beat it beyond noise."""
    d = summary.dense
    out = [ReportBlock("h1", f"Trade-off sweep: {summary.model}"),
           ReportBlock("p", f"**Dense baseline {summary.metric}: {d.accuracy:.4f}** "
                       f"(evaluation set of the model, {d.seeds} seed(s)).")]
    out += _model_card(summary)
    better = summary.beats_dense()
    if better:
        band = (f"the seeds' spread, {summary.noise:.4f}" if summary.noise
                else "0: one seed, so no spread is known; more seeds give one")
        out.append(ReportBlock("p", (
            f"**Check the baseline:** {len(better)} pruned point(s) beat the dense "
            f"{summary.metric} by more than {band}: "
            + ", ".join(f"{e.label} ({e.accuracy:.4f})" for e in better)
            + ". The dense baseline is fine-tuned the same steps as every point; a pruned model "
              "well above it usually means an evaluation that varies or a model still training.")))
    return out


def _settings(summary: Summary, cfg: dict[str, Any]) -> ReportBlock:
    """What the sweep ran: patterns, sparsities, formats, machines, layers and pruning."""
    pruning = cfg.get("pruning", {})
    return ReportBlock("ul", items=[
        f"patterns: {', '.join(summary.patterns)}",
        f"target sparsities: {', '.join(f'{s:g}' for s in summary.sparsities)}",
        f"formats: {', '.join(summary.formats) or 'none'}",
        "accelerators: " + (", ".join(
            a + "".join(f" {k}={v}" for k, v in cfg.get("accelerator_params", {}).get(a, {}).items())
            for a in summary.accelerators) or "none"),
        f"pruned and measured layers: {', '.join(summary.layers)} (layers outside this list "
        f"stay dense in every point, dense baseline included)"
        + ("" if summary.measured_share is None else
           f"; they hold {summary.measured_share:.1%} of the model's weights, the share every "
           "size, machine and sparsity figure here covers"),
        f"pruning: gradual cubic schedule over {pruning.get('steps', '?')} fine-tuning steps "
        f"(ramp {pruning.get('ramp', '?')}, masks updated every {pruning.get('every', '?')} "
        f"steps), magnitude criterion" if pruning else "pruning: as stored",
        f"allocation of each target among the layers: {cfg.get('allocation', 'uniform')} "
        f"({ALLOCATIONS[cfg.get('allocation', 'uniform')]})",
        f"accelerators run each measured layer with its real pruned weights and the input "
        f"activations of {cfg.get('sim_samples', 1)} evaluation sample(s), captured with forward "
        f"hooks; speedup and energy gain are dense / pruned on the same accelerator",
    ])


def _results(summary: Summary) -> list[ReportBlock]:
    """The main table with its Pareto marks, then the fronts at each sparsity."""
    head, body = main_table(summary, fronts(summary))
    fhead = ["sparsity", "front: compression", *(f"front: {a} speedup" for a in summary.machines)]
    return [ReportBlock("h2", "Results"),
            ReportBlock("p", "★ marks a point on a Pareto front of the metric against the named axis, "
                        "over all sparsities (size: compression ratio; speed and energy: an "
                        "accelerator's speedup and energy gain). `n/a`: the format or accelerator "
                        "rejects the mask (reasons below)."),
            ReportBlock("table", head=head, body=body),
            ReportBlock("h2", "Pareto front at each sparsity"),
            ReportBlock("p", "Patterns not dominated at equal target sparsity, on accuracy and the "
                        f"named axis; a pattern whose actual sparsity is more than {REACHED} from "
                        "the target (N:M fixes it) is left out at that target."),
            ReportBlock("table", head=fhead, body=fronts_by_sparsity(summary))]


def _accelerator_table(summary: Summary) -> list[ReportBlock]:
    """Modelled time and energy of every point on each accelerator (none without one)."""
    if not summary.accelerators:
        return []
    atable = [[e.pattern, f"{e.sparsity:g}",
               *(_time_energy(e.accel.get(a)) for a in summary.accelerators)]
              for e in [summary.dense, *summary.entries]]
    heads = [f"{a} ({', '.join(summary.ran.get(a, [])) or 'none'})" for a in summary.accelerators]
    return [ReportBlock("h2", "Time and energy per inference on each accelerator"),
            ReportBlock("p", "Modelled time (µs) / energy (µJ) of the layers each accelerator ran "
                        "(in brackets: a machine declines layers it cannot run, so compare "
                        "machines only over the same layers), for the captured evaluation "
                        "sample(s); systolic and SIMD, where present, are dense machines."),
            ReportBlock("table", head=["pattern", "sparsity", *heads], body=atable)]


def _rounds(counts: list[int]) -> str:
    """``15 `` or ``7 or 15 ``: the stored round counts as the CPU paragraph names them, or
    nothing where no row recorded its count."""
    return " or ".join(str(n) for n in counts) + " " if counts else ""


def _cpu_table(summary: Summary, cfg: dict[str, Any]) -> list[ReportBlock]:
    """Measured dense and sparse latency of every point on this CPU (none if not measured)."""
    if not summary.measured:
        return []
    ctable = [[e.pattern, f"{e.sparsity:g}", _num(e.cpu.get("dense_ms"), ".3g"),
               _num(e.cpu.get("sparse_ms"), ".3g"), f"{e.cpu.get('channels_cut', 0):g}",
               _measured(e, "cpu")]
              for e in [summary.dense, *summary.entries]]
    batch = cfg.get("cpu_batch", "?")
    own = (" (the batch the model serves, its `cpu_batch`)"
           if batch == (summary.card or {}).get("cpu_batch") else " (the sweep's `--cpu-batch`)")
    return [ReportBlock("h2", "Measured latency on this CPU"),
            ReportBlock("p", f"The pruned model run whole on batch {batch}{own} "
                        "of the sample inputs, its pruned layers on the project's kernels "
                        "(`sparsify`, which first cuts the channels pruning emptied from the "
                        "layers on both sides where that is exact, `shrink`: the channels-cut "
                        "column, and keeps a layer dense where its kernel is slower), "
                        "against the same weights run dense by torch: medians (ms) of "
                        f"{_rounds(summary.cpu_rounds)}interleaved rounds in the same run, at the "
                        "sweep's thread count. Where every layer stays dense (and in the dense "
                        "row) the deployed model is the dense one: its speedup is 1 and the two "
                        "medians show the timing noise."),
            ReportBlock("table", head=["pattern", "sparsity", "dense ms", "sparse ms",
                                       "channels cut", "speedup"], body=ctable)]


def _compression_table(summary: Summary) -> list[ReportBlock]:
    """The compression ratio of every point in each format, quantising ones marked."""
    ftable = [[e.pattern, f"{e.sparsity:g}",
               *(_num(e.compression.get(f), ".2f", "x" + ("q" if f in e.lossy else ""))
                 for f in summary.formats)] for e in [summary.dense, *summary.entries]]
    return [ReportBlock("h2", "Compression ratio by format (pruned layers)"),
            ReportBlock("p", "`q`: the format quantises the values (it does not decode back "
                        "exactly; the metric above is of the exact weights), so it is left out of "
                        "the best-format column."),
            ReportBlock("table", head=["pattern", "sparsity", *summary.formats], body=ftable)]


def _left_out(summary: Summary) -> list[ReportBlock]:
    """What a format or accelerator rejected, and the layers a point left dense."""
    out = []
    if summary.not_applicable:
        out += [ReportBlock("h2", "Not applicable"),
                ReportBlock("p", "Each format or accelerator, the points where it rejected the mask, "
                            "and its first reason (every reason is in the store)."),
                ReportBlock("ul", items=not_applicable(summary))]
    left = {f"{e.label}: {n} ({why})" for e in summary.entries for n, why in e.left_dense.items()}
    if left:
        out += [ReportBlock("h2", "Layers left dense"), ReportBlock("ul", items=sorted(left))]
    return out


def not_applicable(summary: Summary, width: int = 240) -> list[str]:
    """One line per rejecting format or accelerator: its points and its first reason."""
    points: dict[str, list[str]] = {}
    first: dict[str, str] = {}
    for (kind, target, p, s), why in summary.not_applicable.items():
        points.setdefault(f"{kind} {target}", []).append(f"{p} @ {s:g}")
        first.setdefault(f"{kind} {target}", why if len(why) <= width else why[:width] + "...")
    return [f"{k} ({', '.join(v)}): {first[k]}" for k, v in points.items()]


def to_markdown(blocks: list[ReportBlock]) -> str:
    """Markdown with images linked from ``plots/``."""
    lines: list[str] = []
    for b in blocks:
        if b.kind == "h1":
            lines.append(f"# {md_text(b.text)}")
        elif b.kind == "h2":
            lines.append(f"## {md_text(b.text)}")
        elif b.kind == "p":
            lines.append(md_text(b.text))
        elif b.kind == "ul":
            lines += [f"- {md_text(i)}" for i in b.items]
        elif b.kind == "table":
            lines += markdown_table([md_text(h) for h in b.head],
                                    [[md_text(str(c)) for c in r] for r in b.body])
        elif b.kind == "img":
            lines.append(f"![{md_text(b.text).replace(']', '')}]({PLOTS_DIR}/{b.stem}.png)")
        elif b.kind == "glance":
            lines.append(f"{md_text(b.text)}: in [{REPORT_HTML}]({REPORT_HTML}); drawn still in "
                         f"[{PLOTS_DIR}/fronts.png]({PLOTS_DIR}/fronts.png).")
        lines.append("")
    return "\n".join(lines)


def md_text(text: str) -> str:
    """Text (a model's name among it) as Markdown shows it: on one line, HTML escaped, so that
    a name cannot open a tag, a heading or a table row."""
    return html.escape(" ".join(str(text).split()), quote=False)


def _inline(text: str) -> str:
    """HTML-escape and turn ``**bold**`` and `` `code` `` pairs into tags."""
    out = html.escape(text)
    for mark, tag in (("**", "strong"), ("`", "code")):
        parts = out.split(mark)
        if len(parts) % 2 == 1:
            out = "".join(p if k % 2 == 0 else f"<{tag}>{p}</{tag}>" for k, p in enumerate(parts))
    return out


#: a wide table scrolls inside its own box (.wide) and keeps its header row and first column
#: in view while it does, so the page itself never overflows a laptop screen
CSS = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
       ".wide{overflow-x:auto;max-width:100%;margin:0.5em 0}"
       "table{border-collapse:collapse;font-size:0.85em}td,th{border:1px solid #ccc;"
       "padding:2px 6px;text-align:right}th{background:#eee;position:sticky;top:0}"
       "td:first-child,th:first-child{position:sticky;left:0;background:#fafafa;text-align:left}"
       "img{max-width:100%}"
       ".sg-controls{display:flex;flex-wrap:wrap;gap:0.5em;font-size:0.85em}"
       ".sg-toggles{border:1px solid #ccc;padding:2px 8px}.sg-toggles label{margin-right:0.8em;"
       "white-space:nowrap}.sg-swatch{display:inline-block;width:0.8em;height:0.8em;"
       "margin:0 0.25em;border-radius:50%}.sg-note{color:#555;font-size:0.9em}"
       ".sg-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));"
       "gap:0.5em}.sg-chart{min-width:0}")


def to_html(blocks: list[ReportBlock], title: str) -> str:
    """A self-contained HTML page: every image embedded as a base64 data URI, the interactive
    charts' library inline (it works with no network)."""
    body: list[str] = []
    for b in blocks:
        if b.kind in ("h1", "h2", "p"):
            body.append(f"<{b.kind}>{_inline(b.text)}</{b.kind}>")
        elif b.kind == "ul":
            body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>")
        elif b.kind == "table":
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b.head)
            rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                           for r in b.body)
            body.append(f"<div class=\"wide\"><table><tr>{head}</tr>{rows}</table></div>")
        elif b.kind == "img":
            data = base64.b64encode(b.images["png"]).decode()
            body.append(f"<figure><img alt=\"{html.escape(b.text)}\" "
                        f"src=\"data:image/png;base64,{data}\"><figcaption>"
                        f"{html.escape(b.text)}</figcaption></figure>")
        elif b.kind == "glance":
            body.append(f"<p class=\"sg-note\">{html.escape(b.text)}.</p>{b.markup}")
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
            f"</title><style>{CSS}</style></head><body>{''.join(body)}</body></html>\n")


def write_report(summary: Summary, out: str | Path, config: dict[str, Any] | None = None
                 ) -> dict[str, Path]:
    """Write ``report.md``, ``report.html`` and ``plots/*.png`` / ``*.pdf`` into ``out``, each
    file atomically and never through a link (:mod:`sparsegrain.core.files`): a killed run
    leaves the previous report whole. Returns the paths (plots by stem, as their PNG)."""
    content = blocks(summary, config)
    paths = {}
    for b in content:
        if b.kind == "img":
            paths[b.stem] = write_images(b.images, out, f"{PLOTS_DIR}/{b.stem}")["png"]
    paths["md"] = write_atomic(out, REPORT_MD, to_markdown(content))
    paths["html"] = write_atomic(out, REPORT_HTML,
                                 to_html(content, f"sparsegrain trade-off: {summary.model}"))
    return paths
