"""The trade-off sweep: prune a real model with every pattern at every sparsity, then measure its
accuracy, its size in every storage format and its cost on every accelerator model.

Each point (pattern, sparsity, seed) starts from the trained dense model, is pruned by the
model's own fine-tuning loop with a gradual schedule, evaluated, and measured layer by layer on
the pruned layers (the workload's ``prunable``; the layers a model keeps dense are the same in every point,
dense baseline included). Accelerators get each layer's real weights and the real input
activations captured with forward hooks from the evaluation data. A format that cannot hold a
mask (``ValueError``) or an accelerator that declines a layer (it says why before it runs) is
recorded as *not applicable* with its reason; a run that fails is an *error* row. All rows of a
point are committed together, so an interrupted sweep resumes at the point it was on.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..core import progress
from ..core.files import FolderLock
from ..formats import FORMATS, format_spec, parse_format
from ..workloads.workload import Workload, load_workload
from .config import DENSE, SweepConfig, first_fit
from .parallel import check_device, check_options, make_runner
from .point import CPU, point_keys, time_stored
from .sensitivity import DEFAULT_SCAN, Sensitivity, scan
from .store import ERROR, open_store


def resolve(cfg: SweepConfig, workload: Workload | None) -> SweepConfig:
    """``cfg`` with the workload's weights hash, default fine-tuning steps (0, one-shot, for a
    workload without ``finetune``) and CPU batch (1 without a workload), and every format (all
    registered ones if none were named) given the parameters of the sweep's pattern it stores
    (bcsr -> bcsr:4:4 for block:4x4)."""
    steps = cfg.pruning.steps
    weights = cfg.weights
    cpu_batch = cfg.cpu_batch
    if workload is not None:
        weights = workload.weights_hash()
        if steps is None:
            steps = workload.finetune_steps if workload.finetune is not None else 0
    if cpu_batch is None:
        cpu_batch = workload.cpu_batch if workload is not None else 1
    patterns = list(cfg.plan.patterns.values())
    formats = []
    for fmt in cfg.formats or tuple(FORMATS):
        kind, given = parse_format(fmt)
        params = given or first_fit(FORMATS[kind].for_pattern, patterns)
        formats.append(format_spec(kind, params))
    return replace(cfg, pruning=replace(cfg.pruning, steps=steps), formats=tuple(formats),
                   weights=weights, cpu_batch=cpu_batch)


def sweep_keys(cfg: SweepConfig) -> list[str]:
    """Every row key of a resolved sweep, in sweep order."""
    return [k for p in cfg.points() for k in point_keys(cfg, *p).values()]


@dataclass
class SweepRun:
    """What a call of :func:`run_sweep` did."""

    config: SweepConfig
    store: Path
    measured: int
    skipped: int
    seconds: float


def run_sweep(
    cfg: SweepConfig,
    out: str | Path,
    resume: bool = False,
    force: bool = False,
    console: Console | None = None,
    workload: Workload | None = None,
    workers: int = 1,
    ray: str | None = None,
    device: str = "cpu",
) -> SweepRun:
    """Run every point of ``cfg`` not yet in the store of folder ``out``; see :mod:`.store` for
    the folder rules that ``resume`` and ``force`` relax. Shows a progress bar on ``console``.
    ``workload`` is the model to prune (default: the one ``cfg.model`` names). Points run in
    this process, in ``workers`` local processes, or as tasks of the Ray cluster at ``ray``
    (``"local"``: a local one); see :mod:`.parallel`. ``device`` (cpu, cuda, auto) is where
    fine-tuning and evaluation run."""
    start = time.perf_counter()
    if resume and force:
        raise ValueError("--resume and --force exclude each other: resume keeps the store, "
                         "force replaces it")
    device = check_device(device)
    check_options(workers, ray)
    # built before anything else runs, at the thread count the user's own script would have:
    # workers get these very weights (see :mod:`.parallel`), never a rebuilt model
    console = console or Console(stderr=True, emoji=False)
    heard: list[tuple[str, str]] = []  # the loading's progress, for the log once it exists
    spec = workload if workload is not None else _load(cfg.model, console, heard)
    cfg = resolve(cfg, spec)
    threads = torch.get_num_threads()
    # Small models train several times faster on one thread than on two contended ones.
    torch.set_num_threads(1)
    try:
        runner = make_runner(spec, cfg, workers, ray, device, named=workload is None)
        with FolderLock(out, "sparsegrain tradeoff"):
            return _run(spec, cfg, Path(out), resume, force, console, start, runner, heard)
    finally:
        torch.set_num_threads(threads)


def _load(name: str, console: Console, heard: list[tuple[str, str]]) -> Workload:
    """The workload ``name``, the progress of its loading (a built-in model's dense training on
    first use) shown live on a terminal, else as lines (none when nothing trains), and kept in
    ``heard`` with its time."""
    with contextlib.ExitStack() as stack:  # a terminal shows a spinner while it loads
        status = stack.enter_context(console.status(
            f"loading {name} (a built-in model trains on first use, then is cached)")) \
            if console.is_terminal else None

        def hear(text: str) -> None:
            heard.append((time.strftime(STAMP), text))
            if status is not None:
                status.update(text)
            else:
                console.print(text, highlight=False)

        stack.enter_context(progress.listening(hear))
        return load_workload(name)


def _run(spec: Any, cfg: SweepConfig, out: Path, resume: bool, force: bool, console: Console,
         start: float, runner: Any, heard: list[tuple[str, str]]) -> SweepRun:
    with open_store(out, cfg.fingerprint(), cfg.to_dict(), resume, force) as store:
        points = cfg.points()
        keys = {p: point_keys(cfg, *p) for p in points}
        cpu_keys = [k[CPU, CPU] for k in keys.values() if (CPU, CPU) in k]
        waiting = store.waiting(cpu_keys)  # pruned by a worker, only the timing left
        todo = [p for p in points if not store.has(k for k in keys[p].values() if k not in waiting)]
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())
        log = SweepLog(out / LOG_NAME, len(todo), heard)
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task("sweep", total=len(todo))

            def say(text: str) -> None:
                bar.update(task, description=text)
                log.stage(text)

            scans: dict[str, Sensitivity] = {}
            jobs = []
            for pattern, sparsity, seed in todo:
                targets = None
                if cfg.allocation == "sensitivity" and pattern != DENSE:
                    if pattern not in scans:
                        say(f"{pattern}: sensitivity scan")
                        scans[pattern] = scan(spec, pattern, scan_sparsities(cfg))
                    targets = scans[pattern].allocate(sparsity)
                jobs.append((pattern, sparsity, seed, targets))
            for rows, pending in runner.run(jobs, say):
                failed = rows[0].pattern == DENSE and rows[0].status == ERROR
                if failed:  # nothing can be compared with a missing baseline: stop at once
                    raise ValueError(f"the dense baseline failed, so the sweep stops: "
                                     f"{rows[0].result['reason']}")
                store.commit_point(rows, pending)
                bar.advance(task)
                estimate = log.point_done(f"{rows[0].pattern} @ {rows[0].sparsity:g}",
                                          pruned=rows[0].pattern != DENSE)
                if estimate:
                    bar.console.print(estimate, highlight=False)
            # points pruned by workers: timed here, one at a time, once no worker runs
            for w in store.pending(cpu_keys):
                say(f"{w.pattern} @ {w.sparsity:g} (seed {w.seed}): timing on this CPU")
                store.commit_timing(time_stored(spec, cfg, w.pattern, w.sparsity, w.seed, w.state))
            bar.update(task, description="sweep done")
            log.stage("sweep done")
        return SweepRun(cfg, store.path, len(todo), len(points) - len(todo),
                        time.perf_counter() - start)


#: the sweep's progress, one timestamped line an event, beside its store
LOG_NAME = "sweep.log"


#: the log's time stamps
STAMP = "%Y-%m-%d %H:%M:%S"
#: seconds between two logged steps of one training loop (the bar shows every one)
STEP_EVERY_S = 30.0


class SweepLog:
    """The progress a terminal shows, as lines in ``OUT/sweep.log`` (for a sweep whose output is
    not a terminal, or is watched from elsewhere): what ``earlier`` heard while the model loaded,
    each stage a point enters (the same text at most once, training steps at most every
    :data:`STEP_EVERY_S`), each point done with the time left; after the first point, an
    estimate of the whole sweep, also returned to be printed."""

    def __init__(self, path: Path, total: int, earlier: Sequence[tuple[str, str]] = ()) -> None:
        self.path, self.total, self.done, self.estimated = path, total, 0, False
        self.start, self.last, self.step_at = time.perf_counter(), "", -STEP_EVERY_S
        for stamp, text in earlier:
            self._write(text, stamp)
        self._write(f"sweep of {total} point(s) to measure")

    def _write(self, text: str, stamp: str | None = None) -> None:
        """Append one line (O_APPEND: whole lines even with a reader watching; O_NOFOLLOW: a
        link put in the log's place is refused, not written through)."""
        line = f"{stamp or time.strftime(STAMP)} {text}\n".encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def stage(self, text: str) -> None:
        if text == self.last:
            return
        self.last = text
        if ": step " in text:
            now = time.perf_counter()
            if now - self.step_at < STEP_EVERY_S:
                return
            self.step_at = now
        self._write(text)

    def point_done(self, label: str, pruned: bool) -> str | None:
        """Log a finished point; after the first pruned one (the dense baseline fine-tunes
        nothing, so it would promise too little), the estimate of the rest (else None)."""
        self.done += 1
        spent = time.perf_counter() - self.start
        left = spent / self.done * (self.total - self.done)
        self._write(f"{self.done}/{self.total} done ({label}), {spent:.0f} s spent, about "
                    f"{left:.0f} s left")
        if pruned and not self.estimated and self.done < self.total:
            self.estimated = True
            return (f"{self.done} point(s) done in {_duration(spent)}: about {_duration(left)} "
                    f"for the other {self.total - self.done} (the bar's estimate follows the "
                    "points as they finish)")
        return None


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def scan_sparsities(cfg: SweepConfig) -> list[float]:
    """The sparsities a sensitivity scan for ``cfg`` visits: the default scan, the targets, and
    one halfway from the highest target to 1 (a pattern may fall just short of a target, and
    the layers must reach beyond it together)."""
    top = max(cfg.sparsities)
    return sorted({*DEFAULT_SCAN, *cfg.sparsities, round((1 + top) / 2, 4)})


