"""The pruner: masks as parametrizations, updated on a schedule, made permanent by ``squash``.

Lifecycle as ``torch.ao.pruning``::

    pruner = Pruner()
    pruner.prepare(model, PruneConfig(pattern="gs:8:1", sparsity=0.9, schedule=Gradual(0, 300, 20)))
    for batch in data:
        loss(model, batch).backward(); optimizer.step(); optimizer.zero_grad()
        pruner.step()                  # recompute masks when the schedule says so
    pruner.squash()                    # zeros written into the weights, parametrizations removed

``prepare`` registers a :class:`Mask` parametrization on every pruned weight (the model's code is
untouched; the original weight lives on as ``parametrizations.<name>.original``), so a masked
weight stays zero through any optimizer step. A mask update scores the masked weight with the
criterion and projects it onto the pattern with ``pattern(spec).mask(weight, sparsity, score)``:
GS and CSP are applied as this projection at every update.
"""

from __future__ import annotations

import fnmatch
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize

from ..patterns import Pattern, pattern
from .allocation import allocate_global, cost_curve
from .config import PruneConfig, load_config
from .criteria import CRITERIA, score

#: module types whose weights can be pruned, and which of their parameters are weights
PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.LSTM, nn.GRU, nn.RNN)


def weight_names(module: nn.Module) -> list[str]:
    """The prunable weights of a module: ``weight``, or ``weight_ih_l*``/``weight_hh_l*`` of RNNs."""
    if isinstance(module, nn.RNNBase):
        return [n for n, _ in module.named_parameters(recurse=False) if n.startswith("weight_")]
    return ["weight"]


def prunable_layers(model: nn.Module) -> list[str]:
    """Names of every module :class:`Pruner` can prune (Linear, Conv1d/2d, LSTM/GRU/RNN)."""
    return [n for n, m in model.named_modules() if isinstance(m, PRUNABLE) and n]


class Mask(nn.Module):
    """Parametrization ``w -> w * mask``; the mask is a boolean buffer saved with the model."""

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask.bool())

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * self.mask


@dataclass
class Target:
    """One pruned weight: where it lives, its pattern and final sparsity."""

    fqn: str
    module: nn.Module
    name: str
    pattern: Pattern
    sparsity: float
    #: its sparsity is allocated globally with the other pooled weights, not fixed
    pooled: bool = False
    taylor_sum: torch.Tensor | None = None
    taylor_count: int = 0
    hook: Any = field(default=None, repr=False)

    @property
    def original(self) -> nn.Parameter:
        return getattr(self.module.parametrizations, self.name).original

    @property
    def mask_module(self) -> Mask:
        return getattr(self.module.parametrizations, self.name)[0]


def _matches(name: str, fqns: list[str], globs: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(n, g) for n in (name, *fqns) for g in globs)


class Pruner:
    """Prunes a model's weights to per-layer patterns and sparsities on a schedule."""

    def __init__(self) -> None:
        self.config: PruneConfig | None = None
        self.targets: list[Target] = []
        self.skipped: dict[str, str] = {}
        self.step_count = 0

    # -- lifecycle -----------------------------------------------------------------------------

    def prepare(self, model: nn.Module, config: PruneConfig | dict[str, Any] | str | Path) -> nn.Module:
        """Attach all-ones masks to the weights the config selects; returns ``model``.

        Raises ``ValueError`` for a config name that matches no prunable layer, or a layer whose
        shape the pattern cannot tile (unless ``on_untileable: skip``, which warns and leaves it
        dense).
        """
        if self.targets:
            raise ValueError("this pruner is already prepared; use a new Pruner for another model")
        cfg = load_config(config)
        self.config = cfg
        names = prunable_layers(model)
        selected = self._select(model, names, cfg)
        for mod_name, w_name, overrides in selected:
            module = model.get_submodule(mod_name)
            fqn = f"{mod_name}.{w_name}"
            rule = cfg.rule(overrides)
            pat = pattern(rule.pattern)
            weight = getattr(module, w_name)
            try:
                pat.check_shape(weight.shape)
            except ValueError as e:
                if cfg.on_untileable == "skip":
                    warnings.warn(f"{fqn} left dense: {e}", stacklevel=2)
                    self.skipped[fqn] = str(e)
                    continue
                raise ValueError(
                    f"layer {fqn}: {e} (leave it dense with `dense: [{mod_name}]`, or set "
                    "`on_untileable: skip`)"
                ) from None
            parametrize.register_parametrization(
                module, w_name, Mask(torch.ones_like(weight, dtype=torch.bool))
            )
            pooled = cfg.allocation == "global" and "sparsity" not in overrides
            t = Target(fqn, module, w_name, pat, rule.sparsity, pooled)
            if CRITERIA[cfg.criterion]:
                t.hook = t.original.register_hook(self._taylor_hook(t))
            self.targets.append(t)
        if not self.targets:
            raise ValueError("the config selects no layer to prune; prunable layers: " + ", ".join(names))
        return model

    def _select(
        self, model: nn.Module, names: list[str], cfg: PruneConfig
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """(module name, weight name, overrides) of each weight the config selects."""
        chosen: list[tuple[str, str, dict[str, Any]]] = []
        used: set[str] = set()
        for name in names:
            for w in weight_names(model.get_submodule(name)):
                fqn = f"{name}.{w}"
                if cfg.dense and _matches(name, [fqn], cfg.dense):
                    continue
                if cfg.layers is None:
                    chosen.append((name, w, {}))
                    continue
                hits = [g for g in cfg.layers if _matches(name, [fqn], [g])]
                if hits:
                    used.update(hits)
                    chosen.append((name, w, cfg.layers[hits[-1]]))
        if cfg.layers is not None:
            unknown = [g for g in cfg.layers if g not in used and not _matches(g, [], cfg.dense)]
            if unknown:
                raise ValueError(
                    f"layer {unknown[0]!r} in the config matches no prunable layer; prunable layers: "
                    + ", ".join(names)
                )
        return chosen

    @staticmethod
    def _taylor_hook(t: Target):
        def hook(grad: torch.Tensor) -> None:
            s = (t.original.detach() * grad.detach()).abs()
            t.taylor_sum = s if t.taylor_sum is None else t.taylor_sum + s
            t.taylor_count += 1

        return hook

    def step(self) -> None:
        """Advance one training step; recompute the masks if the schedule updates at this step."""
        self._check_prepared()
        if self.config.schedule.updates_at(self.step_count):
            self.update_masks(self.step_count)
        self.step_count += 1

    @torch.no_grad()
    def update_masks(self, step: int) -> None:
        """Project every pruned weight onto its pattern at the schedule's sparsity for ``step``
        (with ``allocation: global``, the pooled weights' sparsities allocated together)."""
        self._check_prepared()
        shared = self.allocation(step)
        for t in self.targets:
            s = shared.get(t.fqn, self.config.schedule.sparsity(step, t.sparsity))
            current = t.mask_module.mask
            if s <= 0.0 and t.fqn not in shared:  # an allocated 0 may still mean N:M's 1 - N/M
                current.fill_(True)
            else:  # patterns compute masks on the CPU (numpy, numba); the model may be elsewhere
                w, sc = self._scored(t)
                current.copy_(t.pattern.mask(w.cpu(), s, sc.cpu()).to(current.device))
            t.taylor_sum, t.taylor_count = None, 0

    def allocation(self, step: int) -> dict[str, float]:
        """Sparsity of each pooled weight at ``step``: the schedule's overall target shared
        out by ranking the pattern groups of all pooled weights together (see
        :mod:`.allocation`); empty under uniform allocation."""
        pooled = [t for t in self.targets if t.pooled]
        overall = self.config.schedule.sparsity(step, self.config.sparsity)
        if not pooled or overall <= 0.0:
            return {}
        curves = {t.fqn: cost_curve(t.pattern, *(x.cpu() for x in self._scored(t)),
                                    start=1.0 - t.mask_module.mask.float().mean().item())
                  for t in pooled}
        sizes = {t.fqn: t.mask_module.mask.numel() for t in pooled}
        return allocate_global(curves, sizes, overall)

    def _scored(self, t: Target) -> tuple[torch.Tensor, torch.Tensor]:
        """The masked weight of ``t`` and its criterion scores (zero where already pruned)."""
        current = t.mask_module.mask
        w = t.original.detach() * current
        taylor = None if t.taylor_sum is None else t.taylor_sum / t.taylor_count
        return w, score(self.config.criterion, w, taylor) * current

    def squash(self) -> None:
        """Write the zeros into the weights and remove the parametrizations and hooks."""
        self._check_prepared()
        for t in self.targets:
            if t.hook is not None:
                t.hook.remove()
            parametrize.remove_parametrizations(t.module, t.name, leave_parametrized=True)
        self.targets = []

    # -- inspection ----------------------------------------------------------------------------

    def masks(self) -> dict[str, torch.Tensor]:
        """Current boolean mask (True = kept) of every pruned weight, by ``module.weight`` name."""
        return {t.fqn: t.mask_module.mask.clone() for t in self.targets}

    def sparsity(self) -> dict[str, float]:
        """Fraction of zeros in each pruned weight's mask."""
        return {t.fqn: 1.0 - t.mask_module.mask.float().mean().item() for t in self.targets}

    def overall_sparsity(self) -> float:
        """Fraction of zeros over all pruned weights together."""
        total = sum(t.mask_module.mask.numel() for t in self.targets)
        kept = sum(int(t.mask_module.mask.sum()) for t in self.targets)
        return 1.0 - kept / max(total, 1)

    # -- resume --------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Step count, config, masks and Taylor accumulators, to resume training."""
        self._check_prepared()
        return {
            "step_count": self.step_count,
            "config": self.config.to_dict(),
            "masks": self.masks(),
            "taylor": {
                t.fqn: (t.taylor_sum.clone(), t.taylor_count)
                for t in self.targets
                if t.taylor_sum is not None
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` into a pruner prepared on the same model and config."""
        self._check_prepared()
        masks = state["masks"]
        mine = {t.fqn: t for t in self.targets}
        if set(masks) != set(mine):
            raise ValueError(
                "the saved pruner state prunes other layers: saved "
                f"{sorted(masks)}, prepared {sorted(mine)}"
            )
        with torch.no_grad():
            for fqn, m in masks.items():
                cur = mine[fqn].mask_module.mask
                if m.shape != cur.shape:
                    raise ValueError(f"saved mask of {fqn} has shape {tuple(m.shape)}, layer {tuple(cur.shape)}")
                cur.copy_(m)
        for t in self.targets:
            t.taylor_sum, t.taylor_count = None, 0
        for fqn, (s, n) in state.get("taylor", {}).items():
            mine[fqn].taylor_sum, mine[fqn].taylor_count = s.clone(), n
        self.step_count = int(state["step_count"])

    def _check_prepared(self) -> None:
        if not self.targets or self.config is None:
            raise ValueError("the pruner has no model: call prepare(model, config) first")
