"""Pruning criteria: the score each weight is ranked by before the pattern groups the scores.

The pattern turns element scores into group saliencies with its norm (L1 by default), so a
criterion only scores single weights.
"""

from __future__ import annotations

import torch

#: criterion name -> whether it needs gradients accumulated during training
CRITERIA: dict[str, bool] = {
    "magnitude": False,  # |w|
    "taylor": True,  # |w * dL/dw|, first-order Taylor (Molchanov et al., CVPR 2019)
}


def score(criterion: str, weight: torch.Tensor, taylor: torch.Tensor | None) -> torch.Tensor:
    """Element scores of ``weight``; ``taylor`` is the mean |w * grad| since the last update."""
    if criterion == "magnitude":
        return weight.abs()
    if criterion == "taylor":
        if taylor is None:
            raise ValueError(
                "the taylor criterion needs at least one backward pass before a mask update; "
                "call pruner.step() after loss.backward()"
            )
        return taylor
    raise ValueError(f"unknown criterion {criterion!r}; valid: {', '.join(CRITERIA)}")
