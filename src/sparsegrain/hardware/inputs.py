"""Checks shared by the accelerator models: a layer's weight and activations as arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def as_tensor(weights: Any) -> torch.Tensor:
    """A weight given as a tensor or numpy array, as a tensor."""
    if isinstance(weights, torch.Tensor):
        return weights
    if isinstance(weights, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(weights))
    raise ValueError(
        f"weights must be a torch.Tensor, a numpy array or an EIE-encoded weight, "
        f"got {type(weights).__name__}"
    )


def as_vector(activations: Any, n: int) -> np.ndarray:
    """Activations as a float32 vector of length ``n``, or a ValueError saying what is wrong."""
    if activations is None:
        raise ValueError(f"activations are required: a vector of {n} values")
    a = activations.detach().cpu().numpy() if hasattr(activations, "detach") else np.asarray(activations)
    a = np.asarray(a, dtype=np.float32)
    if a.ndim != 1 or a.shape[0] != n:
        raise ValueError(
            f"activations must be a vector of length {n} (the weight's inputs), got shape {a.shape}"
        )
    return a
