"""A user's model as the sweep takes it: a plain :class:`Workload` object, no subclassing.

``Workload(model, evaluate, sample_inputs, finetune=None, prunable=None, ...)`` holds the trained
dense model and how to judge it. :func:`load_workload` finds one from what a user types: a
built-in name (``digits-cnn``), ``path/to/file.py:NAME``, ``package.module:NAME`` (NAME a
Workload or a function returning one) or a name another package registers under the entry-point
group ``sparsegrain.workloads``.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import importlib
import importlib.util
import math
import numbers
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..prune import PruneConfig, Pruner, load_config

#: the entry-point group through which installed packages add workloads
ENTRY_POINT_GROUP = "sparsegrain.workloads"
#: the module name a workload file imported by path gets (plus a hash of its path)
FILE_MODULE_PREFIX = "sparsegrain_workload_"
#: module types a sweep measures (their ``weight`` is what formats and machines take)
MEASURED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.LSTM, nn.GRU)

Finetune = Callable[[nn.Module, int, Callable[[int], None] | None], None]


@dataclass
class Workload:
    """A trained dense model, how to evaluate it and on what inputs to measure it.

    - ``evaluate(model)`` returns a number, or a dict whose first entry is the headline metric;
    - ``sample_inputs``: real inputs (a tensor, a tuple of them, or a function returning either),
      ``model(*inputs)`` runs them; their activations feed the machine models;
    - ``finetune(model, steps, callback)``: optional; ``steps`` optimizer steps calling
      ``callback(step)`` after each (where the pruner updates its masks). Without it, every
      point is pruned one-shot;
    - ``prunable``: module names or globs (``"encoder.*.dense"``); default every Linear / Conv
      layer but the first and the last;
    - ``metric`` names a plain-number result; ``version`` marks a model change that the weights
      alone would not show (data, evaluation).
    """

    model: nn.Module
    evaluate: Callable[[nn.Module], Any]
    sample_inputs: Any
    finetune: Finetune | None = None
    prunable: list[str] | None = None
    metric: str = "accuracy"
    higher_is_better: bool = True
    name: str | None = None
    version: str | int | None = None
    #: fine-tuning steps per point when the sweep names none (with ``finetune`` only)
    finetune_steps: int = 300
    #: the batch a deployment serves: the trade-off's CPU row times the pruned model on this
    #: many sample inputs unless the sweep names another
    cpu_batch: int = 1
    #: what the model is and what it is evaluated on, for the report's model card
    description: str | None = None
    #: the evaluation set in words ("24 rendered pages, 191 words"), for the model card
    evaluation: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, nn.Module):
            raise ValueError(f"Workload model must be a torch.nn.Module, got {type(self.model).__name__}")
        for field, value in (("evaluate", self.evaluate), ("finetune", self.finetune)):
            if value is not None and not callable(value):
                raise ValueError(f"Workload {field} must be a function, got {type(value).__name__}")
        if self.prunable is not None and (isinstance(self.prunable, str) or not all(
                isinstance(p, str) for p in self.prunable)):
            raise ValueError("Workload prunable must be a list of module names or globs")
        if not isinstance(self.finetune_steps, int) or self.finetune_steps < 0:
            raise ValueError(f"finetune_steps must be an integer >= 0, got {self.finetune_steps!r}")
        if not isinstance(self.cpu_batch, int) or self.cpu_batch < 1:
            raise ValueError(f"Workload cpu_batch must be an integer >= 1, got {self.cpu_batch!r}")

    @property
    def label(self) -> str:
        """The name reports show."""
        return self.name or type(self.model).__name__

    def card(self) -> dict[str, Any]:
        """The model in figures: parameters, weights (tensors of two or more dimensions),
        layers by kind, the metric and what the model is."""
        kinds: dict[str, int] = {}
        for m in self.model.modules():
            if any(True for _ in m.parameters(recurse=False)):
                kinds[type(m).__name__] = kinds.get(type(m).__name__, 0) + 1
        return {"parameters": sum(p.numel() for p in self.model.parameters()),
                "weights": sum(p.numel() for p in self.model.parameters() if p.dim() >= 2),
                "layers": kinds, "metric": self.metric, "higher_is_better": self.higher_is_better,
                "cpu_batch": self.cpu_batch,
                "description": self.description, "evaluation": self.evaluation}

    def fresh_model(self) -> nn.Module:
        """A copy of the dense model, in eval mode, that a point may prune."""
        return copy.deepcopy(self.model).eval()

    def inputs(self) -> tuple:
        """The sample inputs as the tuple ``model(*inputs)`` takes, or a ValueError when they
        are neither tensors nor a function returning them."""
        x = (call_user(self.sample_inputs, "sample_inputs") if callable(self.sample_inputs)
             else self.sample_inputs)
        x = x if isinstance(x, tuple) else (x,)
        if not x or not any(isinstance(t, torch.Tensor) for t in x):
            raise ValueError(f"sample_inputs gave {type(x[0]).__name__ if x else 'nothing'}; "
                             "give a tensor, a tuple of tensors or a function returning either")
        if any(isinstance(t, torch.Tensor) and t.dim() and not len(t) for t in x):
            raise ValueError("sample_inputs hold a tensor of 0 samples; give at least one")
        return x

    def measure(self, model: nn.Module) -> tuple[str, dict[str, float]]:
        """(headline metric name, every metric) of ``model``, or a ValueError saying what
        ``evaluate`` did wrong: raised, returned something other than a number or a dict of
        numbers, or changed the model (a point's figures would then depend on the order its
        measurements ran in)."""
        before = state_digest(model)
        with torch.no_grad():
            got = call_user(self.evaluate, "evaluate", model)
        if state_digest(model) != before:
            raise ValueError("evaluate changed the model's weights or buffers (a training step, "
                             "BatchNorm statistics in train mode?); it must leave the model as "
                             "it found it: evaluate a copy, or call model.eval() first")
        metrics = got if isinstance(got, dict) else {self.metric: got}
        out = {str(key): _number(key, value) for key, value in metrics.items()}
        if not out or not math.isfinite(next(iter(out.values()))):
            raise ValueError(f"evaluate returned {got!r}: no finite headline metric")
        return next(iter(out)), out

    def layers(self, model: nn.Module) -> list[str]:
        """The measured layers: ``prunable`` resolved against the model's Linear, Conv, LSTM
        and GRU layers, or all of them but the first and the last; an entry matching none is an
        error."""
        names = [n for n, m in model.named_modules() if isinstance(m, MEASURED) and n]
        if self.prunable is None:
            return names[1:-1] if len(names) > 2 else names
        chosen: list[str] = []
        for entry in self.prunable:
            hits = [n for n in names if fnmatch.fnmatchcase(n, entry)]
            if not hits:
                raise ValueError(
                    f"prunable entry {entry!r} matches no Linear, Conv, LSTM or GRU layer; layers: "
                    f"{', '.join(names) or 'none'}"
                )
            chosen += [n for n in hits if n not in chosen]
        return chosen

    def weights_hash(self) -> str:
        """sha256 (16 hex digits) of the dense model's state and ``version``: a changed model
        gets new keys, so it is measured again rather than served from the store."""
        return state_digest(self.model, str(self.version))

    def prune(self, model: nn.Module, config: PruneConfig | dict[str, Any] | str | Path,
              steps: int | None = None) -> PruneResult:
        """Prune ``model`` in place per ``config`` over ``steps`` fine-tuning steps (0 or no
        ``finetune``: one-shot), then squash."""
        return prune_model(model, config, self.layers(model), self.finetune,
                           self.finetune_steps if steps is None else steps)


def state_digest(model: nn.Module, salt: str = "") -> str:
    """sha256 (16 hex digits) of every parameter and buffer of ``model`` by name (shared ones
    under each name, non-persistent buffers and 0-dim or integer ones included)."""
    h = hashlib.sha256(salt.encode())
    named = [*model.named_parameters(remove_duplicate=False),
             *model.named_buffers(remove_duplicate=False)]
    for key, t in sorted(named, key=lambda kv: kv[0]):
        t = t.detach().cpu().contiguous().reshape(-1)
        h.update(f"{key}:{t.dtype}:{t.numel()}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def call_user(fn: Callable[..., Any], what: str, *args: Any) -> Any:
    """``fn(*args)`` of the user's workload, any failure (``sys.exit`` included) as a one-line
    ValueError naming ``what`` failed."""
    try:
        return fn(*args)
    except (Exception, SystemExit) as e:  # noqa: BLE001 - the user's code: report, not crash
        raise ValueError(f"the workload's {what} failed: {failure(e)}") from None


def failure(e: BaseException) -> str:
    """What went wrong, in one line: a ValueError's own message (already one of the project's
    lines), ``sys.exit(code)``, or the exception's type and message."""
    if isinstance(e, SystemExit):
        return f"sys.exit({e.code!r})"
    return str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"


def _number(key: Any, value: Any) -> float:
    """A metric as a float: a real number, numpy scalar or one-element tensor (not a bool or a
    string, which ``float`` would also take)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.dtype == torch.bool:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)):
        raise ValueError(f"evaluate returned {key}={value!r}; return a number or a dict of "
                         "numbers whose first entry is the headline metric")
    return float(value)


@dataclass
class PruneResult:
    """What a pruning run did: the config, final masks and sparsity per weight."""

    config: PruneConfig
    masks: dict[str, torch.Tensor]
    sparsity: dict[str, float]
    overall_sparsity: float


def prune_model(model: nn.Module, config: PruneConfig | dict[str, Any] | str | Path,
                layers: list[str], finetune: Finetune | None, steps: int) -> PruneResult:
    """The one pruning run of a model: masks prepared on ``layers`` (unless the config names
    its own), updated by the schedule during ``finetune`` (one-shot without it or with 0 steps),
    then squashed into the weights."""
    cfg = load_config(config)
    if cfg.layers is None:
        cfg = PruneConfig.from_dict({**cfg.to_dict(), "layers": layers})
    pruner = Pruner()
    pruner.prepare(model, cfg)
    if steps <= 0 or finetune is None:
        pruner.update_masks(cfg.schedule.last_step)
    else:
        if cfg.schedule.last_step >= steps:
            raise ValueError(
                f"the schedule's last mask update (step {cfg.schedule.last_step}) is not within "
                f"the {steps} fine-tuning steps"
            )
        call_user(finetune, "finetune", model, steps, lambda _: pruner.step())
        if pruner.step_count <= cfg.schedule.last_step:
            raise ValueError(
                f"the workload's finetune called its callback {pruner.step_count} time(s) in "
                f"{steps} steps; it must call callback(step) after every optimizer step (the "
                "pruner updates its masks there), or the model is never pruned")
    result = PruneResult(cfg, pruner.masks(), pruner.sparsity(), pruner.overall_sparsity())
    pruner.squash()
    model.eval()
    return result


def plugin_names() -> list[str]:
    """Workloads installed packages add through the entry-point group."""
    return [e.name for e in entry_points(group=ENTRY_POINT_GROUP)]


def is_reference(text: str) -> bool:
    """Does ``text`` name a workload by ``FILE.py:NAME`` or ``module:NAME``?"""
    head, sep, name = text.rpartition(":")
    return bool(sep and head and name.isidentifier())


def load_workload(ref: str | Workload) -> Workload:
    """The Workload that ``ref`` names (see the module docstring), or a one-line ValueError."""
    if isinstance(ref, Workload):
        return ref
    from .models import MODELS, get

    if not isinstance(ref, str) or not ref.strip():
        raise ValueError(f"a model is a name or FILE.py:NAME / package.module:NAME, got {ref!r}")
    if ref in MODELS:
        return get(ref).workload()
    plugins = {e.name: e for e in entry_points(group=ENTRY_POINT_GROUP)}
    if ref in plugins:
        return _as_workload(plugins[ref].load(), f"entry point {ref!r}")
    if not is_reference(ref):
        valid = ", ".join([*MODELS, *plugins])
        raise ValueError(
            f"unknown model {ref!r}; valid: {valid}, or FILE.py:NAME / package.module:NAME"
        )
    where, _, name = ref.rpartition(":")
    module = _import_file(where) if where.endswith(".py") else _import_module(where)
    if not hasattr(module, name):
        raise ValueError(f"{where} defines no {name!r}; it should be a Workload or a function "
                         "returning one")
    return _as_workload(getattr(module, name), ref)


def _import_file(path: str) -> Any:
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"workload file {path} does not exist")
    name = f"{FILE_MODULE_PREFIX}{hashlib.sha256(str(p.resolve()).encode()).hexdigest()[:12]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, p)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[name]
        raise ValueError(f"importing {path} failed: {type(e).__name__}: {e}") from None
    return module


def _import_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise ValueError(f"cannot import module {name!r}: {e}") from None


def _as_workload(obj: Any, where: str) -> Workload:
    """``obj`` itself if a Workload, else what calling it returns, which must be one."""
    if not isinstance(obj, Workload) and callable(obj) and not isinstance(obj, type):
        try:
            obj = obj()
        except Exception as e:  # noqa: BLE001 - the user's function: one line, not a traceback
            raise ValueError(f"calling {where}() failed: {type(e).__name__}: {e}; NAME must be "
                             "a sparsegrain.Workload or a function of no arguments returning "
                             "one") from None
    if not isinstance(obj, Workload):
        raise ValueError(f"{where} is a {type(obj).__name__}, not a sparsegrain.Workload "
                         "(or a function returning one)")
    return obj
