"""A study: rows of figures, a published-vs-obtained summary and plots, written to a folder; the
registry of studies, from which ``sparsegrain reproduce`` builds one command per study out of its
function's signature (each option declared with :class:`Opt` in an ``Annotated`` type)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from rich.console import Console
from rich.progress import track

from ..core.files import output_folder, write_atomic
from ..core.registry import Registry
from ..core.tables import markdown_table
from ..report.plots import plt, to_images, write_images


@dataclass(frozen=True)
class Opt:
    """How a study parameter appears on the command line: its help and, where the parameter's
    name would read badly, its flag (``from_store`` -> ``--from``)."""

    help: str
    flag: str | None = None


Quick = Annotated[bool, Opt("a few small layers only (seconds)")]
Seed = Annotated[int, Opt("seed of the random weights and activations")]
MiniLM = Annotated[bool, Opt("add MiniLM's real weights (if installed)")]
ActDensity = Annotated[float, Opt("density of the random activations, in (0, 1]")]
FromStore = Annotated[str | None, Opt("`sparsegrain tradeoff` output folders, comma-separated "
                                      "(one per network): add the comparison at equal "
                                      "accuracy from their sweeps", flag="--from")]


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
    #: further tables after the main one: (title, columns, rows)
    tables: list[tuple[str, list[str], list[dict[str, Any]]]] = field(default_factory=list)


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
    for title, columns, rows in study.tables:
        lines += ["", f"## {title}", "",
                  *markdown_table(columns, ([cell(r.get(c, "")) for c in columns] for r in rows))]
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


STUDIES: Registry[Callable[..., Study]] = Registry("study")
#: decorator adding a study function under its name (``@study("csp")``)
study = STUDIES.register


def run_study(name: str, **options: Any) -> Study:
    """Run a study by name (``granularity``, ``csp``, ``gs``)."""
    return STUDIES.lookup(name)(**options)
