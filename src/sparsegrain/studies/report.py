"""Study results: rows of figures, a published-vs-obtained summary, plots; written to a folder."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import track  # noqa: E402

from ..core.files import output_folder, write_atomic  # noqa: E402
from ..core.registry import Registry  # noqa: E402
from ..core.tables import markdown_table  # noqa: E402
from ..workloads.catalog import LayerShape  # noqa: E402
from ..hardware.base import simulate  # noqa: E402
from ..hardware.layers import random_activations  # noqa: E402
from ..report.plots import to_images, write_images  # noqa: E402


@dataclass
class Study:
    """What a comparison produced."""

    name: str
    title: str
    #: one dict per (layer, configuration); keys are the CSV columns
    rows: list[dict[str, Any]]
    #: columns shown in the markdown table (all go to the CSV)
    table_columns: list[str]
    #: markdown paragraphs: the figures obtained against the published ones, and why they differ
    summary: list[str]
    #: (file name, function drawing on a matplotlib Figure)
    plots: list[tuple[str, Callable[[Any], None]]] = field(default_factory=list)


def progress(cases: list, description: str) -> Any:
    """Iterate ``cases`` with a progress bar on stderr, so stdout stays clean for ``--json``."""
    return track(cases, description=description, console=Console(stderr=True, emoji=False), transient=True)


def cell(v: Any) -> str:
    """A table cell: 4 significant digits below 1,000, thousands separators above."""
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e3 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def markdown(study: Study) -> str:
    """The study as a markdown document: title, summary, then the table."""
    cols = study.table_columns
    lines = [f"# {study.title}", "", *[p + "\n" for p in study.summary], "",
             *markdown_table(cols, ([cell(r.get(c, "")) for c in cols] for r in study.rows))]
    lines += ["", "Plots: " + ", ".join(f"`{name}`" for name, _ in study.plots), ""]
    return "\n".join(lines)


def write_study(study: Study, out_dir: str | Path, overwrite: bool = False) -> list[Path]:
    """Write ``<name>.md``, ``<name>.csv`` and each plot as PNG and PDF into ``out_dir``, each
    file atomically and never through a link; returns the paths (plots as their PNG).

    Existing files are kept (a ValueError names them) unless ``overwrite``.
    """
    out = output_folder(out_dir)
    stems = [name.removesuffix(".png") for name, _ in study.plots]
    paths = [out / f"{study.name}.md", out / f"{study.name}.csv", *[out / f"{s}.png" for s in stems]]
    taken = [str(p) for p in paths if p.exists() or p.is_symlink()]
    if taken and not overwrite:
        raise ValueError(f"would overwrite {', '.join(taken)}; choose another folder or overwrite")
    write_atomic(out, paths[0].name, markdown(study))
    keys = list(dict.fromkeys(k for r in study.rows for k in r))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=keys)
    writer.writeheader()
    writer.writerows(study.rows)
    write_atomic(out, paths[1].name, text.getvalue())
    for (_, draw), stem in zip(study.plots, stems):
        fig = plt.figure(figsize=(8, 4.5))
        draw(fig)
        fig.tight_layout()
        write_images(to_images(fig), out, stem)
    return paths


def layer_activations(layer: LayerShape, density: float, seed: int, tokens: int) -> np.ndarray:
    """Seeded activations for a catalog layer: (C_in, H, W) for conv, (tokens, inputs) for FC."""
    shape = (layer.in_features, *layer.input_size) if layer.kind == "conv" else (tokens, layer.in_features)
    return random_activations(shape, density, seed)


def run_layer(accel: str, layer: LayerShape, weight: torch.Tensor, acts: np.ndarray, **params: Any) -> Any:
    """Simulate one catalog layer (its stride and padding) on ``accel``."""
    if layer.kind == "conv":
        params.update(stride=layer.stride, padding=layer.padding)
    return simulate(accel, weight, acts, **params)


def dense_macs(layer: LayerShape, acts: np.ndarray) -> int:
    """Dense multiply-accumulates of the layer on these activations (all samples)."""
    return layer.macs * (acts.shape[0] if layer.kind != "conv" else 1)


def energy_groups(result: Any) -> dict[str, float]:
    """Energy (uJ) by group of the action vocabulary: dram, sram, rf, compute, control."""
    return {g: pj / 1e6 for g, pj in result.energy_by_group().items()}


def geomean(xs: list[float]) -> float:
    xs = [x for x in xs if x > 0 and math.isfinite(x)]
    return float(np.exp(np.mean(np.log(xs)))) if xs else float("nan")


def minilm_layers(filter_: str) -> dict[str, torch.Tensor]:
    """Real all-MiniLM-L6-v2 weights whose names contain ``filter_``; empty when not installed."""
    from ..workloads.weights import load_weights

    try:
        return load_weights("minilm", filter_)
    except ValueError:
        return {}


def minilm_layer(name: str, w: torch.Tensor) -> LayerShape:
    return LayerShape(f"minilm:{name.removeprefix('encoder.').removesuffix('.weight')}", "fc",
                 w.shape[1], w.shape[0])


STUDIES: Registry[Callable[..., Study]] = Registry("study")
#: decorator adding a study function under its name (``@study("csp")``)
study = STUDIES.register


def run_study(name: str, **options: Any) -> Study:
    """Run a study by name (``granularity``, ``csp``, ``gs``)."""
    return STUDIES.lookup(name)(**options)


def equal_accuracy(store: str | Path, machine: str, budgets: tuple[float, ...] = (0.5, 1.0, 2.0)
                   ) -> list[str]:
    """Markdown paragraphs comparing the patterns of the sweep stored in folder ``store`` at
    equal accuracy: per budget, the sparsity each keeps, its speedup on ``machine`` and its
    storage compression, and the ratios to unstructured and to the sweep's block pattern."""
    from ..report.budget import STORAGE, answer, ratio, references
    from ..report.sweep_report import load_summary

    summary, config = load_summary(store)
    if machine not in summary.machines:
        raise ValueError(f"the sweep in {store} did not simulate {machine}; it ran "
                         f"{', '.join(summary.machines) or 'no machine'} (sweep again with "
                         f"--accelerators {machine})")
    refs = references(summary)
    head = ["budget", "pattern", "sparsity kept", f"{machine} speedup", "compression",
            *(f"{machine} vs {n}" for n in refs), *(f"storage vs {n}" for n in refs)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def fmt(r: Any) -> str:
        return "—" if r is None else f"{r.value:.2f}x{'~' if r.interpolated else ''}"

    for b in budgets:
        answers = answer(summary, b)
        for p, a in answers.items():
            vs = [ratio(answers, p, ref, "speedup", machine) for ref in refs.values()]
            st = [ratio(answers, p, ref, "compression", STORAGE) for ref in refs.values()]
            lines.append("| " + " | ".join([
                f"{b:g}", p, "—" if a.sparsity is None else f"{a.sparsity.sparsity:.3f}"
                + ("~" if a.sparsity.interpolated else ""), fmt(a.speedup.get(machine)),
                fmt(a.compression), *("—" if v is None else f"{v:.2f}x" for v in [*vs, *st])])
                + " |")
    return [
        f"**At equal accuracy** (the sweep stored in `{store}`: model {config.model}, patterns "
        f"{', '.join(summary.patterns)}, fine-tuned; budgets in points of {summary.metric} below "
        "dense, `~` interpolated between measured sparsities, see `sparsegrain report`):",
        "\n".join(lines),
    ]
