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
    if isinstance(activations, torch.Tensor):
        activations = activations.detach().cpu().numpy()
    a = np.asarray(activations, dtype=np.float32)
    if a.ndim != 1 or a.shape[0] != n:
        raise ValueError(
            f"activations must be a vector of length {n} (the weight's inputs), got shape {a.shape}"
        )
    return a


def check_density(name: str, d: float) -> float:
    """A density in [0, 1], or a ValueError naming ``name``."""
    if not isinstance(d, (int, float, np.floating)) or not 0.0 <= float(d) <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {d!r}")
    return float(d)


def random_activations(n: int, density: float, seed: int = 0, columns: int = 0) -> np.ndarray:
    """Seeded ReLU-like activations: exactly round(density * n) positive entries per column.

    ``columns = 0`` gives a vector of ``n``, else an (n, columns) matrix.
    """
    density = check_density("act_density", density)
    rng = np.random.default_rng(seed)
    shape = (n, max(columns, 1))
    keep = np.argsort(rng.random(shape), axis=0) < round(density * n)
    a = np.where(keep, rng.exponential(1.0, shape), 0.0).astype(np.float32)
    return a[:, 0] if columns == 0 else a
