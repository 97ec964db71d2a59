"""What each layer of a model receives: its input activation, captured with forward hooks."""

from __future__ import annotations

import torch
from torch import nn


def module_inputs(model: nn.Module, names: list[str], inputs: tuple | torch.Tensor
                  ) -> dict[str, torch.Tensor]:
    """The first input of each named module when ``model(*inputs)`` runs (no gradients)."""
    seen: dict[str, torch.Tensor] = {}
    hooks = [model.get_submodule(n).register_forward_pre_hook(
        lambda mod, args, n=n: seen.setdefault(n, args[0].detach().clone())) for n in names]
    try:
        with torch.no_grad():
            model(*(inputs if isinstance(inputs, tuple) else (inputs,)))
    finally:
        for h in hooks:
            h.remove()
    return seen
