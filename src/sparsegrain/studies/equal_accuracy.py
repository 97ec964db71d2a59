"""A sweep's patterns compared at equal accuracy, as the studies that read a stored sweep show it."""

from __future__ import annotations

from pathlib import Path
from typing import Any


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
