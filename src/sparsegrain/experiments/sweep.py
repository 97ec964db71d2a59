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

import copy
import math
import statistics
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import torch
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from torch import nn

from .. import patterns as pattern_lib
from ..formats import FORMATS, encode, format_spec, parse_format
from ..hardware import ACCELERATORS, EnergyTable, Layer, build
from ..patterns import Geometry
from ..core.files import FolderLock
from ..core.hooks import module_inputs
from ..core.timing import interleaved_ms
from ..kernels import sparsify
from ..prune import Gradual, PruneConfig
from ..workloads.workload import Workload, call_user, load_workload
from .config import DENSE, SweepConfig, config_key, point_config
from .sensitivity import DEFAULT_SCAN, Sensitivity, scan
from .store import ERROR, NOT_APPLICABLE, OK, Row, open_store

ACCURACY, FORMAT, ACCELERATOR, CPU = "accuracy", "format", "accelerator", "cpu"
#: torch's thread count before a sweep sets one thread for training: the measured CPU's
MACHINE_THREADS = torch.get_num_threads()
#: the energy table every accelerator row is priced with (the package default)
TABLE = EnergyTable.load()


def resolve(cfg: SweepConfig, workload: Workload | None) -> SweepConfig:
    """``cfg`` with the workload's weights hash and default fine-tuning steps (0, one-shot, for a
    workload without ``finetune``), and every format (all registered ones if none were named)
    given the parameters of the sweep's pattern it stores (bcsr -> bcsr:4:4 for block:4x4)."""
    steps = cfg.pruning.steps
    weights = cfg.weights
    if workload is not None:
        weights = workload.weights_hash()
        if steps is None:
            steps = workload.finetune_steps if workload.finetune is not None else 0
    patterns = [pattern_lib.pattern(p) for p in cfg.patterns]
    formats = []
    for fmt in cfg.formats or tuple(FORMATS):
        kind, given = parse_format(fmt)
        params = given or first_fit(FORMATS[kind].for_pattern, patterns)
        formats.append(format_spec(kind, params))
    return replace(cfg, pruning=replace(cfg.pruning, steps=steps), formats=tuple(formats),
                   weights=weights)


def first_fit(for_pattern: Callable[[Geometry], dict[str, Any] | None],
              patterns: list[pattern_lib.Pattern]) -> dict[str, Any]:
    """The parameters a format or machine derives from the sweep's first pattern it exploits
    (``bcsr`` from the first ``block:RxC``, ``csph`` from the first ``csp:C``); the dense
    baseline and every point use the same ones. None exploited: its defaults."""
    return next((p for p in (for_pattern(s.geometry) for s in patterns) if p is not None), {})


def accelerator_params(cfg: SweepConfig) -> dict[str, dict[str, Any]]:
    """Constructor parameters of each accelerator of the sweep (see :func:`first_fit`)."""
    patterns = [pattern_lib.pattern(p) for p in cfg.patterns]
    return {a: first_fit(ACCELERATORS[a].for_pattern, patterns) for a in cfg.accelerators}


def point_keys(cfg: SweepConfig, pattern: str, sparsity: float, seed: int) -> dict[tuple[str, str], str]:
    """Row key of every measurement of one point, by (kind, target)."""
    point = point_config(cfg, pattern, sparsity, seed)
    keys = {(ACCURACY, ""): config_key(point, ACCURACY)}
    keys |= {(FORMAT, f): config_key(point, FORMAT, f) for f in cfg.formats}
    keys |= {(ACCELERATOR, a): config_key(point, ACCELERATOR, a, params)
             for a, params in accelerator_params(cfg).items()}
    if cfg.cpu_batch:
        keys[CPU, CPU] = config_key(point, CPU, CPU, {"batch": cfg.cpu_batch})
    return keys


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
    from .parallel import check_device, check_options, make_runner, start_fork_server

    start = time.perf_counter()
    if resume and force:
        raise ValueError("--resume and --force exclude each other: resume keeps the store, "
                         "force replaces it")
    device = check_device(device)
    check_options(workers, ray)
    # built before anything else runs, at the thread count the user's own script would have:
    # workers get these very weights (see :mod:`.parallel`), never a rebuilt model
    spec = workload if workload is not None else load_workload(cfg.model)
    if workers > 1:
        start_fork_server()
    cfg = resolve(cfg, spec)
    console = console or Console(stderr=True, emoji=False)
    threads = torch.get_num_threads()
    # Small models train several times faster on one thread than on two contended ones.
    torch.set_num_threads(1)
    try:
        runner = make_runner(spec, cfg, workers, ray, device, named=workload is None)
        with FolderLock(out, "sparsegrain tradeoff"):
            return _run(spec, cfg, Path(out), resume, force, console, start, runner)
    finally:
        torch.set_num_threads(threads)


def _run(spec: Any, cfg: SweepConfig, out: Path, resume: bool, force: bool, console: Console,
         start: float, runner: Any) -> SweepRun:
    with open_store(out, cfg.fingerprint(), cfg.to_dict(), resume, force) as store:
        points = cfg.points()
        keys = {p: point_keys(cfg, *p) for p in points}
        cpu_keys = [k[CPU, CPU] for k in keys.values() if (CPU, CPU) in k]
        waiting = store.waiting(cpu_keys)  # pruned by a worker, only the timing left
        todo = [p for p in points if not store.has(k for k in keys[p].values() if k not in waiting)]
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task("sweep", total=len(todo))

            def say(text: str) -> None:
                bar.update(task, description=text)

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
            # points pruned by workers: timed here, one at a time, once no worker runs
            for w in store.pending(cpu_keys):
                say(f"{w.pattern} @ {w.sparsity:g} (seed {w.seed}): timing on this CPU")
                store.commit_timing(time_stored(spec, cfg, w.pattern, w.sparsity, w.seed, w.state))
            bar.update(task, description="sweep done")
        return SweepRun(cfg, store.path, len(todo), len(points) - len(todo),
                        time.perf_counter() - start)


def time_stored(spec: Workload, cfg: SweepConfig, pattern: str, sparsity: float, seed: int,
                state: dict[str, torch.Tensor]) -> Row:
    """The measured-CPU row of a point pruned elsewhere, from its stored pruned state."""
    model = spec.fresh_model()
    model.load_state_dict(state)
    status, result = measure_cpu(model.eval(), pattern, spec.inputs(), cfg.cpu_batch)
    return point_rows(spec, cfg, pattern, sparsity, seed)(CPU, CPU, status, result)


def scan_sparsities(cfg: SweepConfig) -> list[float]:
    """The sparsities a sensitivity scan for ``cfg`` visits: the default scan, the targets, and
    one halfway from the highest target to 1 (a pattern may fall just short of a target, and
    the layers must reach beyond it together)."""
    top = max(cfg.sparsities)
    return sorted({*DEFAULT_SCAN, *cfg.sparsities, round((1 + top) / 2, 4)})


def point_rows(spec: Workload, cfg: SweepConfig, pattern: str, sparsity: float, seed: int
               ) -> Callable[[str, str, str, dict[str, Any]], Row]:
    """``row(kind, target, status, result)`` making the rows of one point, keyed as
    :func:`point_keys` says (the keys computed once for all of them)."""
    keys = point_keys(cfg, pattern, sparsity, seed)
    point = point_config(cfg, pattern, sparsity, seed)
    accel = accelerator_params(cfg)

    def row(kind: str, target: str, status: str, result: dict[str, Any]) -> Row:
        params = accel[target] if kind == ACCELERATOR else {}
        return Row(keys[kind, target], spec.label, pattern, sparsity, kind, target, seed, status,
                   {**point, "kind": kind, "target": target, "params": params}, result)

    return row


def measure_point(
    spec: Workload, cfg: SweepConfig, pattern: str, sparsity: float, seed: int,
    say: Callable[[str], None] = lambda stage: None,
    targets: dict[str, float] | None = None,
    device: str = "cpu",
    pruned: dict[str, Any] | None = None,
) -> list[Row]:
    """Prune, evaluate and measure one point; returns its rows (not yet stored). ``targets``
    (layer -> sparsity) replaces the allocation of ``cfg`` (the sensitivity allocation's).
    Fine-tuning and evaluation run on ``device``; the measurements on the CPU. With
    ``pruned`` (a dict) the CPU latency is not timed here but the pruned model's state is put
    in it under ``"state"``, for :func:`measure_cpu` to time later on an idle machine.

    A point that fails (the workload's own code raised, or a stage of the project) is one error
    row naming the stage and the error, wherever it runs: the failure policy of every runner."""
    stage = ["starting"]

    def track(text: str) -> None:
        stage[0] = text
        say(text)

    try:
        return _measure_point(spec, cfg, pattern, sparsity, seed, track, targets, device, pruned)
    except (Exception, SystemExit) as e:  # noqa: BLE001 - one error row, never a lost sweep
        detail = f"sys.exit({e.code!r})" if isinstance(e, SystemExit) else f"{type(e).__name__}: {e}"
        if isinstance(e, ValueError):
            detail = str(e)
        reason = f"point {pattern} @ {sparsity:g} (seed {seed}) failed while {stage[0]}: {detail}"
        return [point_rows(spec, cfg, pattern, sparsity, seed)(ACCURACY, "", ERROR,
                                                               {"reason": reason})]


def _measure_point(spec: Workload, cfg: SweepConfig, pattern: str, sparsity: float, seed: int,
                   say: Callable[[str], None], targets: dict[str, float] | None, device: str,
                   pruned: dict[str, Any] | None) -> list[Row]:
    row = point_rows(spec, cfg, pattern, sparsity, seed)
    torch.manual_seed(seed)
    model = spec.fresh_model().to(device)
    say("pruning")
    t0 = time.perf_counter()
    masks, left_dense = prune(spec, model, cfg, pattern, sparsity, targets)
    prune_s = time.perf_counter() - t0
    say("evaluating")
    metric, metrics = spec.measure(model)
    model = model.cpu()
    masks = {k: m.cpu() for k, m in masks.items()}
    layers = pruned_layers(model, spec.layers(model), masks)
    zeros = sum(int((~lay.mask).sum()) for lay in layers.values())
    total = sum(lay.mask.numel() for lay in layers.values())
    rows = [row(ACCURACY, "", OK, {
        "metric": metric,
        "higher_is_better": spec.higher_is_better,
        "value": metrics[metric],
        "metrics": metrics,
        "sparsity_actual": zeros / max(total, 1),
        "layer_sparsity": {n: float((~lay.mask).float().mean()) for n, lay in layers.items()},
        "left_dense": left_dense,
        "allocation": cfg.allocation,
        **({"layer_targets": targets} if targets else {}),
        "prune_s": prune_s,
    })]
    for fmt in cfg.formats:
        say(f"encoding {fmt}")
        status, result = measure_format(fmt, layers)
        rows.append(row(FORMAT, fmt, status, result))
    if cfg.accelerators:
        say("capturing activations")
        acts = capture_inputs(model, list(layers), spec.inputs(), cfg.sim_samples)
        for accel, params in accelerator_params(cfg).items():
            say(f"simulating {accel}")
            status, result = measure_accelerator(accel, layers, acts, params)
            rows.append(row(ACCELERATOR, accel, status, result))
    if cfg.cpu_batch and pruned is not None:
        pruned["state"] = model.state_dict()
    elif cfg.cpu_batch:
        say("timing on this CPU")
        status, result = measure_cpu(model, pattern, spec.inputs(), cfg.cpu_batch)
        rows.append(row(CPU, CPU, status, result))
    return rows


def prune(
    spec: Workload, model: nn.Module, cfg: SweepConfig, pattern: str, sparsity: float,
    targets: dict[str, float] | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Prune ``model`` in place, each layer to its ``targets`` sparsity if given, else as the
    sweep's allocation says; returns the final masks by weight name and the layers the
    pattern could not tile (left dense, with the reason)."""
    steps = cfg.pruning.steps
    if pattern == DENSE:
        # the baseline is fine-tuned the same steps as every point, so that a pruned point
        # is compared with the model its own fine-tuning would have made unpruned
        if steps and spec.finetune is not None:
            call_user(spec.finetune, "finetune", model, steps, lambda _: None)
            model.eval()
        return {}, {}
    schedule = Gradual(start=0, end=cfg.pruning.ramp_end, every=cfg.pruning.every)
    layers = ({n: {"sparsity": s} for n, s in targets.items()} if targets
              else spec.layers(model))
    config = PruneConfig(pattern=pattern, sparsity=sparsity, schedule=schedule,
                         on_untileable="skip", layers=layers,
                         allocation="global" if cfg.allocation == "global" else "uniform")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # layers left dense are reported below instead
        masks = spec.prune(model, config, steps=steps).masks
    left_dense = {}
    for name in spec.layers(model):
        if f"{name}.weight" not in masks:
            try:
                pattern_lib.pattern(pattern).check_shape(model.get_submodule(name).weight.shape)
                left_dense[name] = "not selected by the pruner"
            except ValueError as e:
                left_dense[name] = str(e)
    return masks, left_dense


@dataclass
class PrunedLayer:
    """One measured layer: its weight, the mask it was pruned to, and the geometry an
    accelerator model needs beyond the defaults (stride 1, no padding)."""

    weight: torch.Tensor
    mask: torch.Tensor
    params: dict[str, int]


def pruned_layers(model: nn.Module, names: list[str], masks: dict[str, torch.Tensor]
                  ) -> dict[str, PrunedLayer]:
    """Every measured layer by module name; a layer without a pruning mask (dense baseline, or
    left dense) keeps its nonzeros."""
    out = {}
    for name in names:
        module = model.get_submodule(name)
        w = module.weight.detach()
        out[name] = PrunedLayer(w, masks.get(f"{name}.weight", w != 0).bool(), conv_params(module))
    return out


def conv_params(module: nn.Module) -> dict[str, Any]:
    """Stride, padding, dilation and groups of a convolution where they differ from the
    defaults (a single number when equal on every axis)."""
    params: dict[str, Any] = {}
    for key, default in (("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1)):
        value = getattr(module, key, default)
        if isinstance(value, tuple) and len(set(value)) == 1:
            value = value[0]
        if value != default:
            params[key] = value
    return params


def capture_inputs(
    model: nn.Module, names: list[str], inputs: tuple, n: int
) -> dict[str, torch.Tensor]:
    """The input activations of each named module on the first ``n`` evaluation samples."""
    return module_inputs(model, names, first(inputs, n))


def first(inputs: tuple, n: int) -> tuple:
    """The first ``n`` samples of every tensor among ``inputs``."""
    return tuple(x[:n] if isinstance(x, torch.Tensor) else x for x in inputs)


def measure_format(fmt: str, layers: dict[str, PrunedLayer]) -> tuple[str, dict[str, Any]]:
    """Bits by field of every layer in format ``fmt`` and over the whole (measured) model, and
    whether it decodes back exactly (a codebook format stores quantised values)."""
    per_layer: dict[str, dict[str, Any]] = {}
    t0 = time.perf_counter()
    for name, lay in layers.items():
        try:
            encoded = encode(lay.weight, fmt, mask=lay.mask)
        except ValueError as e:
            return NOT_APPLICABLE, {"reason": f"{name}: {e}"}
        report = encoded.storage()
        kept = torch.where(lay.mask, lay.weight, torch.zeros((), dtype=lay.weight.dtype))
        per_layer[name] = {"bits": report.bits, "total_bits": report.total_bits,
                           "dense_bits": report.dense_bits,
                           "exact": torch.equal(encoded.decode(), kept),
                           "compression_ratio": report.compression_ratio}
    bits: dict[str, int] = {}
    for rep in per_layer.values():
        for k, v in rep["bits"].items():
            bits[k] = bits.get(k, 0) + v
    total = sum(r["total_bits"] for r in per_layer.values())
    dense = sum(r["dense_bits"] for r in per_layer.values())
    return OK, {"total_bits": total, "dense_bits": dense,
                "compression_ratio": dense / total if total else math.inf,
                "exact": all(r["exact"] for r in per_layer.values()), "bits": bits,
                "layers": per_layer, "seconds": time.perf_counter() - t0}


def machine_layer(lay: PrunedLayer, x: torch.Tensor) -> Layer:
    """One captured sample through one pruned layer, as the machines take it; a ValueError
    when the layer has geometry the machine models do not describe (dilation, groups)."""
    extra = sorted(set(lay.params) - {"stride", "padding"})
    if extra:
        raise ValueError(
            "the machine models take stride and padding only; this layer has "
            + ", ".join(f"{k}={lay.params[k]}" for k in extra)
        )
    w = torch.where(lay.mask, lay.weight, torch.zeros((), dtype=lay.weight.dtype))
    return Layer(w, x, **lay.params)


def measure_accelerator(
    accel: str, layers: dict[str, PrunedLayer], acts: dict[str, torch.Tensor],
    params: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Cycles, time and energy of every layer ``accel`` accepts, run on each captured sample's
    real activations in turn. A layer the machine declines (:meth:`Accelerator.declines`: a
    mask it cannot exploit, a scratchpad too small) is listed with its reason; none accepted =
    not applicable. An exception inside a run is an error row naming the layer."""
    machine = build(accel, **(params or {}))
    per_layer: dict[str, dict[str, Any]] = {}
    rejected: dict[str, str] = {}
    t0 = time.perf_counter()
    for name, lay in layers.items():
        try:
            samples = [machine_layer(lay, x) for x in acts[name]]
        except ValueError as e:
            rejected[name] = str(e)
            continue
        reason = machine.declines(samples[0])
        if reason is not None:
            rejected[name] = reason
            continue
        try:
            runs = [machine.run(s) for s in samples]
        except Exception as e:  # noqa: BLE001 - a failed run is recorded, never "not applicable"
            return ERROR, {"reason": f"{name}: {type(e).__name__}: {e}", "layer": name}
        per_layer[name] = {
            "cycles": sum(float(r.cycles) for r in runs),
            "time_s": sum(float(r.time_s) for r in runs),
            "energy_pj": sum(float(r.priced(TABLE).energy_pj) for r in runs),
            "utilization": statistics.fmean(float(r.utilization) for r in runs),
        }
    if not per_layer:
        return NOT_APPLICABLE, {"reason": "; ".join(f"{n}: {why}" for n, why in rejected.items())}
    return OK, {
        "cycles": sum(r["cycles"] for r in per_layer.values()),
        "time_s": sum(r["time_s"] for r in per_layer.values()),
        "energy_pj": sum(r["energy_pj"] for r in per_layer.values()),
        "layers": per_layer,
        "rejected": rejected,
        "params": params or {},
        "seconds": time.perf_counter() - t0,
    }


def measure_cpu(model: nn.Module, pattern: str, inputs: tuple, batch: int, rounds: int = 15
                ) -> tuple[str, dict[str, Any]]:
    """Latency on this CPU of the pruned ``model`` with its pruned layers on the project's
    kernels (:func:`sparsegrain.kernels.sparsify`, deciding per layer on the layer's real
    input, dense where its kernel is slower), against the same model run dense by torch:
    medians over ``rounds`` interleaved rounds on the first ``batch`` sample inputs, at the
    thread count torch had before the sweep (:data:`MACHINE_THREADS`). Where every layer stays
    dense the speedup is 1 (the same model); the medians are kept as the noise floor."""
    x = first(inputs, batch)
    training_threads = torch.get_num_threads()
    torch.set_num_threads(MACHINE_THREADS)
    try:
        fast = copy.deepcopy(model)
        choices: dict[str, str] = {}
        if pattern != DENSE:
            try:
                sparsify(fast, pattern=pattern, inputs=x)
                choices = {c.name: c.chosen for c in fast.sparsify_report}
            except ValueError as e:
                return NOT_APPLICABLE, {"reason": str(e)}
        with torch.no_grad():
            ms = interleaved_ms({"dense": lambda: model(*x), "sparse": lambda: fast(*x)}, rounds)
    finally:
        torch.set_num_threads(training_threads)
    # Every layer kept dense: the deployed model is the dense one, so its speedup is 1 by
    # construction; the two medians still show the timing noise.
    same = all(c == "dense" for c in choices.values())
    return OK, {"dense_ms": ms["dense"], "sparse_ms": ms["sparse"],
                "speedup": 1.0 if same else ms["dense"] / ms["sparse"], "identical": same,
                "batch": batch, "threads": MACHINE_THREADS, "rounds": rounds, "layers": choices}
