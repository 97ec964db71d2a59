"""The trade-off sweep from Python: ``sparsegrain.tradeoff(workload, ...)``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from .experiments import SweepConfig, run_sweep
from .experiments.config import (
    DEFAULT_ACCELERATORS,
    DEFAULT_PATTERNS,
    DEFAULT_SPARSITIES,
    Pruning,
    split_list,
)
from .experiments.store import STORE_NAME, ResultStore, Row
from .experiments.sweep import sweep_keys
from .report import report_sweep
from .report.budget import DEFAULT_BUDGETS, check_budgets
from .workloads.workload import Workload, load_workload

#: result fields copied into the table, by kind of row
FIELDS = {
    "accuracy": ("value", "sparsity_actual"),
    "format": ("total_bits", "dense_bits", "compression_ratio", "exact"),
    "accelerator": ("cycles", "time_s", "energy_pj"),
    "cpu": ("dense_ms", "sparse_ms", "speedup", "identical", "batch"),
}


class Tradeoff(NamedTuple):
    """What :func:`tradeoff` returns: one table row per point and target, and the report files."""

    table: pd.DataFrame
    report: dict[str, Path]


def tradeoff(
    workload: Workload | str,
    patterns: tuple[str, ...] | str = DEFAULT_PATTERNS,
    sparsities: tuple[float, ...] | str = DEFAULT_SPARSITIES,
    accelerators: tuple[str, ...] | str = DEFAULT_ACCELERATORS,
    formats: tuple[str, ...] | str = (),
    seeds: tuple[int, ...] = (0,),
    steps: int | None = None,
    out: str | Path = "results",
    budgets: tuple[float, ...] = DEFAULT_BUDGETS,
    resume: bool = False,
    force: bool = False,
    allocation: str = "uniform",
    cpu_batch: int | None = None,
    workers: int = 1,
    ray: str | None = None,
    device: str = "cpu",
) -> Tradeoff:
    """Sweep ``workload`` (a :class:`Workload` or what ``--model`` takes) over every pattern and
    sparsity, store the rows in ``out`` and write the report there, as ``sparsegrain tradeoff``
    does; returns the table of this sweep's rows and the report paths."""
    budgets = check_budgets(budgets)
    wl = None if isinstance(workload, str) else load_workload(workload)  # a name: the sweep's
    model = workload if wl is None else (wl.name or "workload")
    def items(v: Any) -> Any:  # a comma list as a user types it, or a sequence already
        return split_list(v) if isinstance(v, str) else v

    cfg = SweepConfig(model=model, patterns=items(patterns), sparsities=items(sparsities),
                      accelerators=items(accelerators), formats=items(formats), seeds=tuple(seeds),
                      pruning=Pruning(steps=steps), allocation=allocation, cpu_batch=cpu_batch)
    run = run_sweep(cfg, out, resume=resume, force=force, workload=wl, workers=workers, ray=ray,
                    device=device)
    _, paths = report_sweep(out, run.config, budgets)
    with ResultStore(Path(out) / STORE_NAME, readonly=True) as store:
        rows = store.rows(sweep_keys(run.config))
    return Tradeoff(table(rows), paths)


def table(rows: list[Row]) -> pd.DataFrame:
    """Stored rows as a flat table: identity columns, status and reason, and the headline
    figures of each kind of row (metric value, bits and compression, cycles and energy)."""
    records = []
    for r in rows:
        rec: dict[str, Any] = {"model": r.model, "pattern": r.pattern, "sparsity": r.sparsity,
                               "seed": r.seed, "kind": r.kind, "target": r.target,
                               "status": r.status, "reason": r.result.get("reason")}
        if r.kind == "accuracy":
            rec["metric"] = r.result.get("metric")
        rec.update({f: r.result.get(f) for f in FIELDS.get(r.kind, ())})
        records.append(rec)
    return pd.DataFrame.from_records(records)
