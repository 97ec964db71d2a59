"""The trade-off plots as PNG, PDF and SVG bytes (matplotlib, Agg backend): small multiples of
accuracy against each machine's gain, the best within each budget, accuracy against sparsity and
against compression ratio, Pareto fronts marked."""

from __future__ import annotations

import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter  # noqa: E402

from ..core.files import write_atomic  # noqa: E402
from .pareto import pareto_front  # noqa: E402
from .summary import Summary  # noqa: E402

MARKERS = "osD^v<>phX*"


#: what every plot is written as: PNG for screens and the HTML report, PDF and SVG (vector) for
#: papers and slides
IMAGE_TYPES = ("png", "pdf", "svg")
#: no date in a vector file, and SVG element ids from a fixed salt: the same figures give the
#: same bytes
_STAMPLESS = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}


def to_images(fig: Figure) -> dict[str, bytes]:
    """The figure as PNG (110 dpi), PDF and SVG bytes, by type; the figure is closed."""
    out = {}
    with plt.rc_context({"svg.hashsalt": "sparsegrain"}):
        for kind in IMAGE_TYPES:
            buf = io.BytesIO()
            fig.savefig(buf, format=kind, dpi=110, bbox_inches="tight",
                        metadata=_STAMPLESS.get(kind))
            out[kind] = buf.getvalue()
    plt.close(fig)
    return out


def write_images(images: dict[str, bytes], out: str | Path, stem: str) -> dict[str, Path]:
    """``STEM.png`` and ``STEM.pdf`` under folder ``out`` (``stem`` may hold a subfolder),
    each written atomically and never through a link; the paths by type."""
    return {kind: write_atomic(out, f"{stem}.{kind}", data) for kind, data in images.items()}


def style_of(summary: Summary) -> dict[str, tuple[str, str]]:
    """(colour, marker) of every pattern, the same in every plot."""
    cmap = plt.get_cmap("tab10")
    return {p: (cmap(i % 10), MARKERS[i % len(MARKERS)]) for i, p in enumerate(summary.patterns)}


def _baseline(ax, summary: Summary) -> None:
    ax.axhline(summary.dense.accuracy, color="black", linestyle="--", linewidth=1,
               label=f"dense ({summary.dense.accuracy:.4g})")
    ax.set_ylabel(summary.metric)
    ax.grid(alpha=0.3)


def accuracy_vs_sparsity(summary: Summary) -> dict[str, bytes]:
    """One line per pattern: the metric at each sparsity reached (N:M stays at 1 - N/M whatever
    the target)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    style = style_of(summary)
    for p in summary.patterns:
        pts = sorted((e.sparsity_actual, e.accuracy) for e in summary.entries if e.pattern == p)
        colour, marker = style[p]
        ax.plot(*zip(*pts), marker=marker, color=colour, label=p)
    _baseline(ax, summary)
    ax.set_xlabel("sparsity of the pruned layers")
    ax.set_title(f"{summary.model}: {summary.metric} vs sparsity")
    ax.legend(fontsize=8, ncol=2)
    return to_images(fig)


def _tradeoff(ax, summary: Summary, values: dict[int, float], xlabel: str, log: bool,
              annotate: bool = True) -> None:
    """Scatter entries at x = values[index], y = metric, each labelled with its target sparsity
    when ``annotate``; Pareto front as a step line."""
    style = style_of(summary)
    entries = summary.entries
    idx = [i for i in values if math.isfinite(values[i])]
    for p in summary.patterns:
        pts = [(values[i], entries[i].accuracy) for i in idx if entries[i].pattern == p]
        if pts:
            colour, marker = style[p]
            ax.scatter(*zip(*pts), color=colour, marker=marker, label=p, s=30, zorder=3)
    for i in idx if annotate else ():
        ax.annotate(f"{entries[i].sparsity:g}", (values[i], entries[i].accuracy), fontsize=6,
                    xytext=(3, 3), textcoords="offset points", color="dimgray")
    front = [idx[k] for k in pareto_front([values[i] for i in idx],
                                          [summary.score(entries[i]) for i in idx])]
    if front:
        fx = [values[i] for i in front]
        fy = [entries[i].accuracy for i in front]
        ax.plot(fx, fy, color="black", linewidth=1, drawstyle="steps-post", zorder=2)
        ax.scatter(fx, fy, s=140, facecolors="none", edgecolors="black", linewidths=1.2,
                   zorder=4, label="Pareto front")
    _baseline(ax, summary)
    ax.set_xlabel(xlabel)
    if log:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
        ax.xaxis.set_minor_formatter(NullFormatter())


def accuracy_vs_compression(summary: Summary) -> dict[str, bytes]:
    """Metric against the best format's compression ratio of the pruned layers."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    values = {i: e.figure("compression") for i, e in enumerate(summary.entries)}
    _tradeoff(ax, summary, values, "compression ratio (best format, pruned layers)", log=True)
    ax.set_title(f"{summary.model}: {summary.metric} vs compression ratio")
    ax.legend(fontsize=8, ncol=2)
    return to_images(fig)


def _budget_lines(ax, summary: Summary) -> None:
    """A dotted line at each accuracy budget, labelled at the panel's right edge."""
    sign = -1.0 if summary.higher_is_better else 1.0
    for b in summary.budgets:
        y = summary.dense.accuracy + sign * b / 100.0
        ax.axhline(y, color="gray", linestyle=":", linewidth=0.9)
        ax.annotate(f"{'-' if summary.higher_is_better else '+'}{b:g} pt", (1.0, y), xycoords=("axes fraction", "data"), ha="right",
                    va="bottom", fontsize=6, color="gray")


def fronts_grid(summary: Summary) -> dict[str, bytes]:
    """Small multiples: per machine that gains something, accuracy against its speedup (top
    row) and energy gain (bottom row), storage's compression first; Pareto fronts drawn, budget
    lines marked, one shared legend."""
    cols = ["storage", *(m for m in summary.machines if not dense_machine(summary, m))]
    fig, axes = plt.subplots(2, len(cols), figsize=(3.2 * len(cols) + 0.6, 6.2), sharey=True,
                             squeeze=False)
    for j, m in enumerate(cols):
        rows = ((("compression", "compression (best exact format)"),) if m == "storage" else
                (("speedup", "speedup" + (" (measured)" if m in summary.measured else "")),
                 ("energy_gain", "energy gain")))
        for r in range(2):
            ax = axes[r][j]
            if r >= len(rows) or (r and not any(m in e.energy_gain for e in summary.entries)):
                ax.set_axis_off()
                continue
            kind, label = rows[r]
            values = {i: e.figure(kind, m) for i, e in enumerate(summary.entries)}
            _tradeoff(ax, summary, values, label, log=True, annotate=False)
            _budget_lines(ax, summary)
            ax.set_title(m if r == 0 else "", fontsize=10)
            ax.xaxis.label.set_size(8)
            ax.tick_params(labelsize=7)
            lo, hi = ax.get_xlim()
            if hi < 3 * lo:  # a narrow span: a few evenly spaced ticks, not one per 1.5x step
                ax.xaxis.set_major_locator(MaxNLocator(4))
            first = j == 0 or (j == 1 and r == 1)  # the bottom row's first panel is column 1
            ax.tick_params(labelleft=first)
            if not first:
                ax.set_ylabel("")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower left", bbox_to_anchor=(0.01, 0.03), fontsize=7,
               frameon=False, ncol=1 if axes[1][0].axison is False else 2)
    fig.suptitle(f"{summary.model}: {summary.metric} against each machine's gain (budgets dotted)")
    fig.tight_layout()
    return to_images(fig)


def equal_accuracy(summary: Summary) -> dict[str, bytes]:
    """Per machine (storage, then each accelerator's speedup), the best figure each pattern
    reaches within each accuracy budget; hollow markers where it is interpolated."""
    from .budget import answer, machines

    cols = [(k, m) for k, m in machines(summary)
            if k == "compression" or (k == "speedup" and not dense_machine(summary, m))]
    answers = {b: answer(summary, b) for b in summary.budgets}
    style = style_of(summary)
    fig, axes = plt.subplots(1, len(cols), figsize=(3.6 * len(cols), 3.6), squeeze=False)
    for ax, (kind, machine) in zip(axes[0], cols):
        for p in summary.patterns:
            pts = []
            for b, per in answers.items():
                a = per[p]
                r = a.compression if kind == "compression" else getattr(a, kind).get(machine)
                if r is not None:
                    pts.append((b, r.value, r.interpolated))
            if not pts:
                continue
            colour, marker = style[p]
            ax.plot([x for x, _, _ in pts], [y for _, y, _ in pts], color=colour, label=p)
            for x, y, interp in pts:
                ax.scatter([x], [y], color=colour, marker=marker, s=28, zorder=3,
                           facecolors="none" if interp else colour)
        ax.set_yscale("log")
        ax.set_xscale("log")
        ax.set_xticks(list(summary.budgets), [f"{b:g}" for b in summary.budgets])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}x"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:.2g}x"))
        ax.set_xlabel(f"budget ({summary.metric} points below dense)")
        ax.set_title("compression" if kind == "compression" else f"{machine} speedup")
        ax.grid(alpha=0.3, which="both")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{summary.model}: best reached within each accuracy budget")
    return to_images(fig)


def dense_machine(summary: Summary, accel: str) -> bool:
    """Does ``accel`` gain nothing from any point (no speedup, or every one within 1 % of 1x)?
    A dense baseline's speedup plot would be a column of points at 1x: left out, its time and
    energy stay in the report's table."""
    gains = [e.speedup[accel] for e in summary.entries if accel in e.speedup]
    return all(abs(g - 1.0) <= 0.01 for g in gains)


def all_plots(summary: Summary) -> dict[str, tuple[str, dict[str, bytes]]]:
    """File stem -> (title, image bytes by type) of every plot of the report."""
    return {
        "fronts": ("Accuracy against each machine's gain, Pareto fronts and budgets",
                   fronts_grid(summary)),
        "equal_accuracy": ("Best compression and speedup within each accuracy budget",
                           equal_accuracy(summary)),
        "accuracy_vs_sparsity": ("Accuracy vs sparsity per pattern", accuracy_vs_sparsity(summary)),
        "accuracy_vs_compression": ("Accuracy vs compression ratio",
                                    accuracy_vs_compression(summary)),
    }

