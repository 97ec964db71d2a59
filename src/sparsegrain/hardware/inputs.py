"""Activations for the machine models: density checks and seeded ReLU-like generation."""

from __future__ import annotations


import numpy as np


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
