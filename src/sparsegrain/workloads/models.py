"""Real models with their data, loaded offline by name: ``sparsegrain.workloads.get("digits-cnn")``.

Every model is a :class:`ModelSpec` with one interface a sweep can drive:

- ``load(cache_dir=None) -> nn.Module``: a fresh copy of the trained dense model (trained models
  are cached on disk under ``cache_dir``, default ``$SPARSEGRAIN_CACHE`` or
  ``~/.cache/sparsegrain``, so reruns are fast);
- ``evaluate(model) -> dict[str, float]``: metrics on the fixed evaluation set, the headline
  metric (``spec.metric``) first; ``spec.higher_is_better`` says which way it points;
- ``finetune(model, steps, callback=None)``: ``steps`` optimizer steps of the model's own training
  loss; ``callback(step)`` runs after each optimizer step (``pruner.step`` goes there);
- ``sample_inputs() -> tuple``: real evaluation inputs, ``model(*inputs)`` runs them (for
  capturing activations);
- ``prunable(model) -> list[str]``: module names to prune (first and last layers stay dense where
  pruning them is not customary);
- ``schedule(steps) -> Gradual``: a gradual schedule that fits in ``steps`` fine-tuning steps;
- ``prune(model, config, steps) -> Pruner``: prune with a :class:`~sparsegrain.prune.PruneConfig`
  while fine-tuning ``steps`` steps (``steps=0``: one-shot to the final sparsity), then squash;
  returns a :class:`PruneResult` (the masks, by ``module.weight`` name, and their sparsity).

A model whose package is missing raises ``ValueError`` at :func:`get` saying what to install.
"""

from __future__ import annotations

import importlib.util
import io
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..core import progress
from ..core.files import write_atomic
from ..core.registry import Registry
from ..prune import Gradual, PruneConfig
from .workload import PruneResult, Workload, prune_model

MODELS: Registry[type[ModelSpec]] = Registry("model", attr="name")
_LOADED: dict[str, ModelSpec] = {}
INSTALL_HINT = "pip install 'sparsegrain[models]'"


#: class decorator adding a ModelSpec subclass under its name (``@register("digits-cnn")``)
register = MODELS.register


def train_steps(
    model: nn.Module, optimizer: torch.optim.Optimizer, steps: int,
    loss_at: Callable[[int], torch.Tensor], callback: Callable[[int], None] | None = None,
    train_mode: bool = True, what: str = "fine-tuning",
) -> None:
    """The one training loop of the models: ``steps`` optimizer steps on ``loss_at(step)``,
    ``callback(step)`` after each (where the pruner updates its masks), progress told as
    ``what`` (:mod:`sparsegrain.core.progress`); the model is left in eval mode.
    ``train_mode=False`` keeps BatchNorm statistics and dropout frozen."""
    model.train(train_mode)
    tick = progress.steps(what, steps)
    for step in range(steps):
        loss = loss_at(step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if callback is not None:
            callback(step)
        tick(step + 1)
    model.eval()


def _norms(model: nn.Module) -> dict[str, nn.modules.batchnorm._BatchNorm]:
    return {n: m for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)}


def _channel_moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation of a (B, C, ...) activation."""
    flat = x.detach().transpose(0, 1).reshape(x.shape[1], -1)
    return flat.mean(1), flat.std(1).clamp_min(1e-6)


class BatchNormAnchor:
    """Re-anchors a pruned model's BatchNorm statistics to the dense model's.

    Pruning shrinks and shifts each layer's outputs, and frozen running statistics then push most
    of them below the next ReLU: a pruned detector goes silent and fine-tuning cannot revive it.
    Re-estimating the statistics on the workload's own inputs fixes the shift but also discards
    what the dense model learnt on its training data (its inputs differ from ours). This moves
    each BatchNorm by the pruning-induced change only: on the same inputs, the pruned model's
    per-channel input moments (m_p, s_p) are mapped to the normalised moments the dense model
    had there (m_d, s_d), i.e. running std' = std * s_p / s_d and running mean' = m_p -
    (m_d - mean) * s_p / s_d; on the dense model itself it changes nothing. One forward pass
    suffices, as each layer is corrected before the next one reads it."""

    def __init__(self, dense: nn.Module, inputs: tuple) -> None:
        self.inputs = inputs
        self.moments = self._capture(dense, correct=False)
        #: the dense running statistics every correction starts from (so that it is idempotent)
        self.running = {n: (m.running_mean.clone(), (m.running_var + m.eps).sqrt())
                        for n, m in _norms(dense).items() if m.running_mean is not None}

    @torch.no_grad()
    def _capture(self, model: nn.Module, correct: bool) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

        def hook(name: str) -> Callable[..., None]:
            def pre(module: nn.modules.batchnorm._BatchNorm, args: tuple) -> None:
                seen[name] = _channel_moments(args[0])
                if correct and name in self.running:
                    dev = module.running_mean.device
                    (m_p, s_p) = seen[name]
                    m_d, s_d, mean, std = (t.to(dev) for t in (*self.moments[name], *self.running[name]))
                    scale = s_p / s_d
                    module.running_mean.copy_(m_p - (m_d - mean) * scale)
                    module.running_var.copy_(((std * scale) ** 2 - module.eps).clamp_min(0.0))
            return pre

        was = model.training
        model.eval()
        handles = [m.register_forward_pre_hook(hook(n)) for n, m in _norms(model).items()]
        try:
            model(*(x.to(device_of(model)) for x in self.inputs))
        finally:
            for h in handles:
                h.remove()
            model.train(was)
        return seen

    def correct(self, model: nn.Module) -> None:
        """Move ``model``'s BatchNorm running statistics by its change from the dense model."""
        self._capture(model, correct=True)


def device_of(model: nn.Module) -> torch.device:
    """Where ``model``'s parameters live: a workload puts its batches there (the sweep moves
    the model to ``--device`` before fine-tuning and evaluating it)."""
    return next(model.parameters(), torch.empty(0)).device


def save_atomic(obj: Any, path: Path) -> None:
    """``torch.save`` through a temporary file, so parallel runs never read half a file, and
    through :func:`~sparsegrain.core.files.write_atomic` (no link followed). A cache that cannot
    be written (a full disk) is a warning: the model is there, only the next run trains again."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    try:
        write_atomic(path.parent.resolve(), path.name, buf.getvalue())  # the folder may be a link
    except ValueError as e:
        warnings.warn(f"the model cache was not written ({e}); the next run builds it again",
                      stacklevel=2)


def load_cached(path: Path, check: Callable[[Any], Any] = lambda obj: obj) -> Any | None:
    """What the cache file ``path`` holds, read with ``weights_only`` (a cache file never runs
    code) and passed through ``check``; None, with a warning naming the file, if it is missing,
    damaged, or not what ``check`` accepts, so that the caller rebuilds it."""
    if not path.is_file():
        return None
    try:
        return check(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as e:  # noqa: BLE001 - any damage means: rebuild
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        warnings.warn(f"model cache file {path} is unreadable ({first[:160]}); rebuilding it",
                      stacklevel=2)
        return None


class ModelSpec(ABC):
    """A real model with its data, its metric and its training loop (see the module docstring)."""

    name: str = ""
    summary: str = ""
    #: headline metric key, the first entry of :meth:`evaluate`
    metric: str = "accuracy"
    higher_is_better: bool = True
    #: (import name, pip package) pairs this model needs
    requires: tuple[tuple[str, str], ...] = ()
    #: fine-tuning steps a sweep should use by default
    finetune_steps: int = 300
    #: the batch a deployment of the model serves: the trade-off's CPU row times this many
    #: sample inputs unless the sweep names another
    cpu_batch: int = 1
    #: fine-tuning steps between two BatchNorm re-anchorings (:meth:`anchored`); 0: none
    anchor_every: int = 0
    _anchor: BatchNormAnchor | None = None

    @classmethod
    def missing(cls) -> list[str]:
        """Pip packages this model needs that are not installed."""
        return [pkg for mod, pkg in cls.requires if importlib.util.find_spec(mod) is None]

    @abstractmethod
    def load(self, cache_dir: str | Path | None = None) -> nn.Module:
        """A fresh copy of the trained dense model, in eval mode."""

    @abstractmethod
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Metrics on the fixed evaluation set, headline metric first."""

    @abstractmethod
    def finetune(
        self, model: nn.Module, steps: int, callback: Callable[[int], None] | None = None
    ) -> None:
        """``steps`` optimizer steps of the model's training loss; ``callback(step)`` after each."""

    @abstractmethod
    def sample_inputs(self) -> tuple:
        """Real evaluation inputs: ``model(*sample_inputs())`` runs them."""

    @abstractmethod
    def prunable(self, model: nn.Module) -> list[str]:
        """Names of the modules to prune."""

    def evaluation(self) -> str | None:
        """The evaluation set in words, for the model card (None: not described)."""
        return None

    def anchor_inputs(self) -> tuple:
        """Training inputs on which BatchNorm statistics are anchored (``anchor_every > 0``)."""
        raise NotImplementedError(f"{self.name} sets anchor_every but gives no anchor_inputs")

    def anchor(self) -> BatchNormAnchor:
        """The dense model's BatchNorm inputs on :meth:`anchor_inputs`, measured once."""
        if self._anchor is None:
            self._anchor = BatchNormAnchor(self.load(), self.anchor_inputs())
        return self._anchor

    def anchored(self, model: nn.Module, steps: int, callback: Callable[[int], None] | None
                 ) -> Callable[[int], None] | None:
        """The fine-tuning loop's callback: ``callback`` (where the pruner updates its masks),
        then, every ``anchor_every`` steps and after the last, the BatchNorm statistics moved
        by the change since the dense model (:class:`BatchNormAnchor`)."""
        if not self.anchor_every:
            return callback
        anchor = self.anchor()

        def step_done(step: int) -> None:
            if callback is not None:
                callback(step)
            if step % self.anchor_every == 0 or step == steps - 1:
                anchor.correct(model)

        return step_done

    def schedule(self, steps: int | None = None) -> Gradual:
        """The gradual schedule a sweep should use with ``steps`` fine-tuning steps: the cubic ramp
        over the first two thirds, 15 mask updates, then a third of pure fine-tuning."""
        steps = self.finetune_steps if steps is None else steps
        end = max(1, 2 * steps // 3)
        return Gradual(0, end, max(1, end // 15))

    def prune(
        self, model: nn.Module, config: PruneConfig | dict[str, Any] | str | Path, steps: int | None = None
    ) -> PruneResult:
        """Prune ``model`` in place per ``config`` while fine-tuning ``steps`` steps, then squash.

        ``steps=None`` uses :attr:`finetune_steps`; ``steps=0`` prunes once to the final sparsity
        without training. Layers default to :meth:`prunable` when the config names none.
        """
        steps = self.finetune_steps if steps is None else steps
        return prune_model(model, config, self.prunable(model), self.finetune, steps)

    def workload(self) -> Workload:
        """This model as a :class:`Workload` (the trained dense model loaded once)."""
        model = self.load()
        return Workload(
            model=model, evaluate=self.evaluate, sample_inputs=self.sample_inputs,
            finetune=self.finetune, prunable=self.prunable(model), metric=self.metric,
            higher_is_better=self.higher_is_better, name=self.name,
            version=getattr(self, "version", None), finetune_steps=self.finetune_steps,
            cpu_batch=self.cpu_batch,
            description=self.summary, evaluation=self.evaluation(),
        )


def get(name: str) -> ModelSpec:
    """The model registered as ``name`` (loaded once per process).

    Raises ``ValueError`` listing the valid names, or saying which package to install.
    """
    cls = MODELS.lookup(name)
    missing = cls.missing()
    if missing:
        raise ValueError(
            f"model {name!r} needs the package(s) {', '.join(missing)}: {INSTALL_HINT}"
        )
    if name not in _LOADED:
        _LOADED[name] = cls()
    return _LOADED[name]
