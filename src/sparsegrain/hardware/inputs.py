"""Checks shared by the accelerator models: a layer's weight and activations as arrays."""

from __future__ import annotations

from pathlib import Path
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


def layer_inputs(
    workload: str | None = None,
    weights: str | None = None,
    pattern: str | None = None,
    sparsity: float | None = None,
    activations: str | None = None,
    act_density: float | None = None,
    seed: int = 0,
) -> tuple[str, torch.Tensor, np.ndarray]:
    """(name, 2-D weight, activation vector) of one layer for ``sparsegrain simulate``.

    ``workload`` is a catalog layer (``eie:Alex-8``): seeded random weights pruned
    (unstructured) to its published weight density unless ``pattern``/``sparsity`` say otherwise,
    activations at its published density. ``weights`` is a weight file or source of
    :func:`~sparsegrain.workloads.load_weights` (its first prunable tensor).
    """
    from ..patterns import pattern as make_pattern
    from ..patterns import to_matrix
    from ..workloads import get_layer, load_weights

    if (workload is None) == (weights is None):
        raise ValueError("give exactly one of workload (e.g. eie:Alex-8) or weights (a file)")
    if sparsity is not None:
        check_density("sparsity", sparsity)
    if act_density is not None:
        check_density("act_density", act_density)
    if workload is not None:
        layer = get_layer(workload)
        name, w = workload, layer.random_weight(seed)
        if sparsity is None and layer.weight_density is not None:
            sparsity = 1.0 - layer.weight_density
        if act_density is None:
            act_density = layer.act_density
    else:
        named = load_weights(weights)
        if not named:
            raise ValueError(f"{weights} holds no prunable weight tensor")
        name, w = next(iter(named.items()))
    if sparsity is not None:
        w = torch.where(make_pattern(pattern or "unstructured").mask(w, sparsity), w, 0.0)
    elif pattern is not None:
        raise ValueError("pattern needs sparsity (a number in [0, 1])")
    m = to_matrix(w).float()
    if activations is not None:
        a = as_vector(_read_array(activations), m.shape[1])
    else:
        a = random_activations(m.shape[1], 1.0 if act_density is None else act_density, seed)
    return name, m, a


def _read_array(path: str) -> np.ndarray:
    """A vector from a .npy, .pt or .txt file."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"activations file {path} does not exist")
    if p.suffix == ".npy":
        return np.load(p, allow_pickle=False)
    if p.suffix in (".pt", ".pth"):
        return torch.load(p, map_location="cpu", weights_only=True).numpy()
    if p.suffix in (".txt", ".csv"):
        return np.loadtxt(p, delimiter="," if p.suffix == ".csv" else None)
    if p.suffix == ".dat":
        return np.fromfile(p, dtype="<f4")
    raise ValueError(
        f"activations file {path}: unknown type {p.suffix!r}; "
        "valid: .npy, .pt, .txt, .csv, .dat (float32)"
    )
