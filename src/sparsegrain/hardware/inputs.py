"""Activations for the machine models: density checks and seeded ReLU-like generation."""

from __future__ import annotations

import numpy as np


def check_density(name: str, d: float) -> float:
    """A density in [0, 1], or a ValueError naming ``name``."""
    if not isinstance(d, (int, float, np.floating)) or not 0.0 <= float(d) <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {d!r}")
    return float(d)


def random_activations(shape: int | tuple[int, ...], density: float, seed: int = 0) -> np.ndarray:
    """Seeded ReLU-like activations of ``shape`` (an int: a vector): exactly
    round(density * size) positive entries (exponential values, mean 1), placed at random."""
    density = check_density("act_density", density)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    n = int(np.prod(shape))
    rng = np.random.default_rng(seed)
    keep = np.argsort(rng.random((n, 1)), axis=0) < round(density * n)
    a = np.where(keep, rng.exponential(1.0, (n, 1)), 0.0).astype(np.float32)
    return a.reshape(shape)
