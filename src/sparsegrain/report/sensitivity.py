"""A sensitivity scan as a table and a plot: the metric with each layer pruned alone."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from ..core.files import FolderLock, write_atomic
from ..core.tables import markdown_table
from ..experiments.sensitivity import Sensitivity
from .plots import MARKERS, plt, to_images, write_images


def table(result: Sensitivity) -> tuple[list[str], list[list[str]]]:
    """One row per layer: its size, then the metric at each target (the sparsity reached where
    it differs from the target by more than 0.01)."""
    head = ["layer", "weights", *(f"{t:g}" for t in result.targets)]
    body = []
    for name, pts in result.points.items():
        cells = [f"{m:.4f}" + (f" (at {s:.2f})" if abs(s - t) > 0.01 else "")
                 for t, (s, m) in zip(result.targets, pts)]
        body.append([name, str(result.sizes[name]), *cells])
    return head, body


def markdown(result: Sensitivity) -> str:
    """The scan as a Markdown page."""
    head, body = table(result)
    text = (f"# Sensitivity of {result.model} to {result.pattern}\n\n"
            f"Dense {result.metric}: {result.dense:.4f}. Each layer is pruned alone, one-shot, to "
            f"the sparsity of the column; a cell is the {result.metric} of the whole model.\n\n"
            + "\n".join(markdown_table(head, body)) + "\n")
    if result.skipped:
        text += "\nLeft dense (the pattern cannot tile them):\n\n" + "".join(
            f"- {n}: {why}\n" for n, why in result.skipped.items())
    return text


def plot(result: Sensitivity) -> dict[str, bytes]:
    """Metric against sparsity, one line per layer, the dense metric dashed."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    cmap = plt.get_cmap("tab10")
    for i, (name, pts) in enumerate(result.points.items()):
        ax.plot(*zip(*pts), marker=MARKERS[i % len(MARKERS)], color=cmap(i % 10),
                label=f"{name} ({result.sizes[name]:,} weights)")
    ax.axhline(result.dense, color="black", linestyle="--", linewidth=1,
               label=f"dense ({result.dense:.4g})")
    ax.set_xlabel("sparsity of the one pruned layer")
    ax.set_ylabel(result.metric)
    ax.set_title(f"{result.model}: sensitivity of each layer to {result.pattern} (one-shot)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return to_images(fig)


def write(result: Sensitivity, out: str | Path, stem: str = "sensitivity") -> dict[str, Path]:
    """``STEM.md``, ``STEM.json`` and the plot ``STEM.png`` / ``.pdf`` in folder ``out``, each
    written atomically, holding the folder's lock."""
    with FolderLock(out, "sparsegrain sensitivity"):
        return {
            "md": write_atomic(out, f"{stem}.md", markdown(result)),
            "json": write_atomic(out, f"{stem}.json", json.dumps(asdict(result), indent=1)),
            **write_images(plot(result), out, stem),
        }
