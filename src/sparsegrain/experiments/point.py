"""One point of a sweep, wherever it runs: prune the dense model with one pattern at one
sparsity, evaluate it, and measure its layers in every format, on every machine and on this CPU.
The serial runner, the worker processes and the Ray tasks all call :func:`measure_point`, and a
failing point becomes the same error row in each."""

from __future__ import annotations

import copy
import math
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..core import progress
from ..core.hooks import module_inputs
from ..core.timing import interleaved_samples, spread
from ..deploy import sparsify
from ..deploy.autotune import load_now
from ..deploy.recurrent import RECURRENT, SparseRNN
from ..formats import encode
from ..hardware import Layer, Unsupported
from ..hardware.machines import Machine
from ..patterns import Pattern
from ..prune import Gradual, PruneConfig
from ..prune.pruner import weight_names
from ..workloads.workload import Workload, call_user, failure
from .config import DENSE, SweepConfig, config_key, point_config
from .store import ERROR, NOT_APPLICABLE, OK, Row

ACCURACY, FORMAT, ACCELERATOR, CPU = "accuracy", "format", "accelerator", "cpu"


#: torch's thread count before a sweep sets one thread for training: the measured CPU's
MACHINE_THREADS = torch.get_num_threads()


def accelerator_params(cfg: SweepConfig) -> dict[str, dict[str, Any]]:
    """What keys each machine column's rows: its constructor parameters (see
    :func:`.config.first_fit`), with its energy table where it names its own."""
    return {name: {**m.params, **({"energy": m.energy} if m.energy else {})}
            for name, m in cfg.plan.machines.items()}


def point_keys(cfg: SweepConfig, pattern: str, sparsity: float, seed: int) -> dict[tuple[str, str], str]:
    """Row key of every measurement of one point, by (kind, target)."""
    point = point_config(cfg, pattern, sparsity, seed)
    keys = {(ACCURACY, ""): config_key(point, ACCURACY)}
    keys |= {(FORMAT, f): config_key(point, FORMAT, f) for f in cfg.formats}
    keys |= {(ACCELERATOR, a): config_key(point, ACCELERATOR, a, params)
             for a, params in accelerator_params(cfg).items()}
    if cfg.timed_batch:
        keys[CPU, CPU] = config_key(point, CPU, CPU, {"batch": cfg.timed_batch})
    return keys


def time_stored(spec: Workload, cfg: SweepConfig, pattern: str, sparsity: float, seed: int,
                state: dict[str, torch.Tensor]) -> Row:
    """The measured-CPU row of a point pruned elsewhere, from its stored pruned state."""
    model = spec.fresh_model()
    model.load_state_dict(state)
    status, result = measure_cpu(model.eval(), cfg.plan.pattern(pattern), spec.inputs(),
                                 cfg.timed_batch)
    return point_rows(spec, cfg, pattern, sparsity, seed)(CPU, CPU, status, result)


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
        reason = (f"point {pattern} @ {sparsity:g} (seed {seed}) failed while {stage[0]}: "
                  f"{failure(e)}")
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
    with progress.listening(lambda text: say(f"pruning, {text}")):
        masks, left_dense = prune(spec, model, cfg, pattern, sparsity, targets)
    prune_s = time.perf_counter() - t0
    say("evaluating")
    metric, metrics = spec.measure(model)
    model = model.cpu()
    masks = {k: m.cpu() for k, m in masks.items()}
    names = spec.layers(model)
    layers = pruned_layers(model, names, masks)
    zeros = sum(int((~lay.mask).sum()) for lay in layers.values())
    total = sum(lay.mask.numel() for lay in layers.values())
    rows = [row(ACCURACY, "", OK, {
        "metric": metric,
        "higher_is_better": spec.higher_is_better,
        "value": metrics[metric],
        "metrics": metrics,
        "sparsity_actual": zeros / max(total, 1),
        "layer_sparsity": {n: float((~lay.mask).float().mean()) for n, lay in layers.items()},
        "measured_share": measured_share(model, layers),
        **({"model_card": spec.card()} if pattern == DENSE else {}),
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
        acts = capture_inputs(model, names, spec.inputs(), cfg.sim_samples)
        for column, machine in cfg.plan.machines.items():
            say(f"simulating {column}")
            status, result = measure_accelerator(machine, layers, acts)
            rows.append(row(ACCELERATOR, column, status, result))
    if cfg.timed_batch and pruned is not None:
        pruned["state"] = model.state_dict()
    elif cfg.timed_batch:
        say("timing on this CPU")
        status, result = measure_cpu(model, cfg.plan.pattern(pattern), spec.inputs(),
                                     cfg.timed_batch)
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
    for key, module, tensor in measured_weights(model, spec.layers(model)):
        if tensor_path(key, tensor) not in masks:
            try:
                cfg.plan.patterns[pattern].check_shape(getattr(module, tensor).shape)
                left_dense[key] = "not selected by the pruner"
            except ValueError as e:
                left_dense[key] = str(e)
    return masks, left_dense


def measured_weights(model: nn.Module, names: list[str]) -> list[tuple[str, nn.Module, str]]:
    """(key, module, tensor name) of every measured weight of the layers ``names``: a layer's
    ``weight`` keyed by the layer's name, each gate matrix of a recurrent layer by
    ``layer.weight_ih_l0`` and so on (the pruner's names for them)."""
    out = []
    for name in names:
        module = model.get_submodule(name)
        out += [(name if t == "weight" else f"{name}.{t}", module, t) for t in weight_names(module)]
    return out


def tensor_path(key: str, tensor: str) -> str:
    """The pruner's name of a measured weight (its masks' key): ``layer.weight`` for a layer."""
    return f"{key}.weight" if tensor == "weight" else key


def measured_share(model: nn.Module, layers: dict[str, PrunedLayer]) -> float:
    """The share of the model's weights (every parameter of two or more dimensions: Linear,
    convolution, recurrent gate and embedding matrices) that the measured layers hold: what the
    formats', machines' and pruning figures cover."""
    total = sum(p.numel() for p in model.parameters() if p.dim() >= 2)
    return sum(lay.weight.numel() for lay in layers.values()) / max(total, 1)


@dataclass
class PrunedLayer:
    """One measured layer: its weight, the mask it was pruned to, and the geometry an
    accelerator model needs beyond the defaults (stride 1, no padding)."""

    weight: torch.Tensor
    mask: torch.Tensor
    params: dict[str, int]


def pruned_layers(model: nn.Module, names: list[str], masks: dict[str, torch.Tensor]
                  ) -> dict[str, PrunedLayer]:
    """Every measured weight by name: a layer's ``weight`` under the module's name, each gate
    matrix of an LSTM or GRU as ``module.weight_ih_l0`` and so on; a weight without a pruning
    mask (dense baseline, or left dense) keeps its nonzeros."""
    out = {}
    for key, module, tensor in measured_weights(model, names):
        w = getattr(module, tensor).detach()
        params = conv_params(module) if tensor == "weight" else {}
        out[key] = PrunedLayer(w, masks.get(tensor_path(key, tensor), w != 0).bool(), params)
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
    """The input activations of each measured weight of the layers ``names``
    (:func:`measured_weights`' keys) on the first ``n`` evaluation samples: a layer's input;
    for a recurrent layer's gate matrix the rows it multiplies over the sequence, (samples,
    steps, columns), from a rerun of the layer that records them."""
    acts: dict[str, torch.Tensor] = {}
    for name, x in module_inputs(model, names, first(inputs, n)).items():
        rnn = model.get_submodule(name)
        if not isinstance(rnn, RECURRENT):
            acts[name] = x
            continue
        rerun = SparseRNN(rnn, {})
        rerun.record = {}
        with torch.no_grad():
            rerun(x)
        acts |= {f"{name}.{gate}": rows for gate, rows in rerun.record.items()}
    return acts


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


def stacked_gates(layers: dict[str, PrunedLayer], acts: dict[str, torch.Tensor]
                  ) -> tuple[dict[str, PrunedLayer], dict[str, torch.Tensor]]:
    """The layers with each recurrent layer's input and recurrent gate matrices of one layer and
    direction joined as [W_ih W_hh] (key ``rnn.weight_l0``, ``rnn.weight_l0_reverse``), against
    the joined rows [x_t, h_t-1] of every step: how EIE ran NT-LSTM. Other layers unchanged."""
    out_layers, out_acts = dict(layers), dict(acts)
    for key in layers:
        head, sep, tail = key.rpartition(".weight_ih_")
        other = f"{head}.weight_hh_{tail}"
        if not sep or other not in layers:
            continue
        a, b = out_layers.pop(key), out_layers.pop(other)
        joined = f"{head}.weight_{tail}"
        out_layers[joined] = PrunedLayer(torch.cat([a.weight, b.weight], 1),
                                         torch.cat([a.mask, b.mask], 1), {})
        out_acts[joined] = torch.cat([out_acts.pop(key), out_acts.pop(other)], -1)
    return out_layers, out_acts


def measure_accelerator(
    spec: Machine, layers: dict[str, PrunedLayer], acts: dict[str, torch.Tensor],
) -> tuple[str, dict[str, Any]]:
    """Cycles, time and energy (priced by the machine's own table) of every layer the machine
    ``spec`` accepts, run on each captured sample's real activations in turn. A layer the
    machine declines (:meth:`Accelerator.declines`: a mask it cannot exploit, a scratchpad too
    small) is listed with its reason; none accepted = not applicable. An exception inside a run
    is an error row naming the layer."""
    machine, table = spec.build(), spec.table()
    if machine.stacks_gates:
        layers, acts = stacked_gates(layers, acts)
    per_layer: dict[str, dict[str, Any]] = {}
    rejected: dict[str, str] = {}
    t0 = time.perf_counter()
    for name, lay in layers.items():
        try:
            samples = [machine_layer(lay, x) for x in acts[name]]
        except ValueError as e:
            rejected[name] = str(e)
            continue
        try:  # run asks the machine whether it takes the layer (declines) once per sample
            runs = [machine.run(s) for s in samples]
        except Unsupported as e:
            rejected[name] = e.reason
            continue
        except Exception as e:  # noqa: BLE001 - a failed run is recorded, never "not applicable"
            return ERROR, {"reason": f"{name}: {type(e).__name__}: {e}", "layer": name}
        per_layer[name] = {
            "cycles": sum(float(r.cycles) for r in runs),
            "time_s": sum(float(r.time_s) for r in runs),
            "energy_pj": sum(float(r.priced(table).energy_pj) for r in runs),
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
        "params": spec.params,
        "seconds": time.perf_counter() - t0,
    }


def measure_cpu(model: nn.Module, pattern: Pattern | None, inputs: tuple, batch: int,
                rounds: int = 15) -> tuple[str, dict[str, Any]]:
    """Latency on this CPU of the pruned ``model`` with its pruned layers on the project's
    kernels (:func:`sparsegrain.deploy.sparsify`, deciding per layer on the layer's real
    input, dense where its kernel is slower; channels pruning emptied first cut from the
    layers on both sides where exact, ``shrink``), against the same model run dense by torch:
    medians over ``rounds`` interleaved rounds on the first ``batch`` sample inputs, at the
    thread count torch had before the sweep (:data:`MACHINE_THREADS`), with the speedup's
    noise (half the interquartile range of the per-round ratios, relative) and the load
    average. Where every layer stays dense the speedup is 1 (the same model); the medians and
    the noise are kept as the noise floor."""
    x = first(inputs, batch)
    training_threads = torch.get_num_threads()
    torch.set_num_threads(MACHINE_THREADS)
    try:
        fast = copy.deepcopy(model).eval()
        choices: dict[str, str] = {}
        cut = 0
        if pattern is not None:
            try:
                sparsify(fast, pattern=pattern, inputs=x, shrink=True)
                choices = {c.name: c.chosen for c in fast.sparsify_report}
                cut = fast.shrink_report.removed if fast.shrink_report else 0
            except ValueError as e:
                return NOT_APPLICABLE, {"reason": str(e)}
        with torch.no_grad():
            samples = interleaved_samples({"dense": lambda: model(*x), "sparse": lambda: fast(*x)},
                                          rounds)
    finally:
        torch.set_num_threads(training_threads)
    ms = {k: statistics.median(v) for k, v in samples.items()}
    noise = spread([d / s for d, s in zip(samples["dense"], samples["sparse"], strict=True)])
    # Every layer kept dense: the deployed model is the dense one, so its speedup is 1 by
    # construction; the two medians still show the timing noise.
    same = not cut and all(c == "dense" for c in choices.values())
    return OK, {"dense_ms": ms["dense"], "sparse_ms": ms["sparse"], "channels_cut": cut,
                "speedup": 1.0 if same else ms["dense"] / ms["sparse"], "identical": same,
                "noise": noise, "load": load_now(), "batch": batch, "threads": MACHINE_THREADS,
                "rounds": rounds, "layers": choices}
