"""The trade-off plots as PNG and PDF bytes (matplotlib, Agg backend): accuracy against sparsity, against
compression ratio, and against each accelerator's speedup and energy gain, Pareto fronts marked."""

from __future__ import annotations

import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from ..core.files import write_atomic  # noqa: E402
from .pareto import pareto_front  # noqa: E402
from .summary import Summary  # noqa: E402

MARKERS = "osD^v<>phX*"


#: what every plot is written as: PNG for screens and the HTML report, PDF (vector) for papers
IMAGE_TYPES = ("png", "pdf")


def to_images(fig: Figure) -> dict[str, bytes]:
    """The figure as PNG (110 dpi) and PDF bytes, by type; the figure is closed. The PDF
    carries no creation date, so the same figures give the same bytes."""
    out = {}
    for kind in IMAGE_TYPES:
        buf = io.BytesIO()
        fig.savefig(buf, format=kind, dpi=110, bbox_inches="tight",
                    metadata={"CreationDate": None} if kind == "pdf" else None)
        out[kind] = buf.getvalue()
    plt.close(fig)
    return out


def write_images(images: dict[str, bytes], out: str | Path, stem: str) -> dict[str, Path]:
    """``STEM.png`` and ``STEM.pdf`` under folder ``out`` (``stem`` may hold a subfolder),
    each written atomically and never through a link; the paths by type."""
    return {kind: write_atomic(out, f"{stem}.{kind}", data) for kind, data in images.items()}


def _style(summary: Summary) -> dict[str, tuple[str, str]]:
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
    style = _style(summary)
    for p in summary.patterns:
        pts = sorted((e.sparsity_actual, e.accuracy) for e in summary.entries if e.pattern == p)
        colour, marker = style[p]
        ax.plot(*zip(*pts), marker=marker, color=colour, label=p)
    _baseline(ax, summary)
    ax.set_xlabel("sparsity of the pruned layers")
    ax.set_title(f"{summary.model}: {summary.metric} vs sparsity")
    ax.legend(fontsize=8, ncol=2)
    return to_images(fig)


def _tradeoff(ax, summary: Summary, values: dict[int, float], xlabel: str, log: bool) -> None:
    """Scatter entries at x = values[index], y = metric; Pareto front as a step line."""
    style = _style(summary)
    entries = summary.entries
    idx = [i for i in values if math.isfinite(values[i])]
    for p in summary.patterns:
        pts = [(values[i], entries[i].accuracy) for i in idx if entries[i].pattern == p]
        if pts:
            colour, marker = style[p]
            ax.scatter(*zip(*pts), color=colour, marker=marker, label=p, s=30, zorder=3)
    for i in idx:  # each point says its target sparsity
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
    values = {i: (e.best_format or ("", math.nan))[1] for i, e in enumerate(summary.entries)}
    _tradeoff(ax, summary, values, "compression ratio (best format, pruned layers)", log=True)
    ax.set_title(f"{summary.model}: {summary.metric} vs compression ratio")
    ax.legend(fontsize=8, ncol=2)
    return to_images(fig)


def accuracy_vs_accelerator(summary: Summary, accel: str) -> dict[str, bytes]:
    """Metric against modelled speedup and energy gain over dense, on one accelerator."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, what, label in ((axes[0], "speedup", "speedup over dense (cycles)"),
                            (axes[1], "energy_gain", "energy gain over dense")):
        values = {i: getattr(e, what).get(accel, math.nan) for i, e in enumerate(summary.entries)}
        _tradeoff(ax, summary, values, label, log=True)
        ax.set_title(f"{accel}: {summary.metric} vs {label}")
    axes[1].legend(fontsize=8, ncol=2)
    return to_images(fig)


def equal_accuracy(summary: Summary) -> dict[str, bytes]:
    """Per machine (storage, then each accelerator's speedup), the best figure each pattern
    reaches within each accuracy budget; hollow markers where it is interpolated."""
    from .budget import answer, machines

    cols = [(k, m) for k, m in machines(summary)
            if k == "compression" or (k == "speedup" and not dense_machine(summary, m))]
    answers = {b: answer(summary, b) for b in summary.budgets}
    style = _style(summary)
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
    plots = {
        "equal_accuracy": ("Best compression and speedup within each accuracy budget",
                           equal_accuracy(summary)),
        "accuracy_vs_sparsity": ("Accuracy vs sparsity per pattern", accuracy_vs_sparsity(summary)),
        "accuracy_vs_compression": ("Accuracy vs compression ratio",
                                    accuracy_vs_compression(summary)),
    }
    for accel in summary.accelerators:
        if not dense_machine(summary, accel):
            plots[f"accuracy_vs_{accel}"] = (f"Accuracy vs modelled speedup and energy on {accel}",
                                             accuracy_vs_accelerator(summary, accel))
    return plots

