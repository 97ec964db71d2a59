"""One layer's operands for ``sparsegrain simulate``: a catalog layer or a weight file, pruned,
with activations read from a file or generated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..core.arrays import as_float32
from ..hardware.inputs import check_density, random_activations
from ..patterns import pattern as make_pattern
from ..patterns import to_matrix
from .catalog import get_layer
from .weights import load_weights


def layer_inputs(
    workload: str | None = None,
    weights: str | None = None,
    pattern: str | None = None,
    sparsity: float | None = None,
    activations: str | None = None,
    act_density: float | None = None,
    seed: int = 0,
    layer: str | None = None,
) -> tuple[str, torch.Tensor, np.ndarray]:
    """(name, 2-D weight, activation vector) of one layer for ``sparsegrain simulate``.

    ``workload`` is a catalog layer (``eie:Alex-8``): seeded random weights pruned
    (unstructured) to its published weight density unless ``pattern``/``sparsity`` say otherwise,
    activations at its published density. ``weights`` is a weight file or source of
    :func:`~sparsegrain.workloads.load_weights`: its tensor ``layer`` (the name, with or
    without ``.weight``), by default its first prunable one.
    """
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
        if layer is not None and layer not in named and f"{layer}.weight" in named:
            layer = f"{layer}.weight"
        if layer is not None and layer not in named:
            raise ValueError(f"{weights} has no layer {layer!r}; layers: {', '.join(named)}")
        name = layer if layer is not None else next(iter(named))
        w = named[name]
    if sparsity is not None:
        w = torch.where(make_pattern(pattern or "unstructured").mask(w, sparsity), w, 0.0)
    elif pattern is not None:
        raise ValueError("pattern needs sparsity (a number in [0, 1])")
    m = to_matrix(w).float()
    if activations is not None:
        a = as_float32(_read_array(activations), f"activations file {activations}")
    else:
        a = random_activations(m.shape[1], 1.0 if act_density is None else act_density, seed)
    return name, m, a


def _read_array(path: str) -> np.ndarray:
    """A vector from a .npy, .pt or .txt file; a file that does not parse as its type (a
    pickle where a tensor should be, say) is a one-line ValueError."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"activations file {path} does not exist")
    readers = {
        ".npy": lambda: np.load(p, allow_pickle=False),
        ".pt": lambda: torch.load(p, map_location="cpu", weights_only=True),
        ".pth": lambda: torch.load(p, map_location="cpu", weights_only=True),
        ".txt": lambda: np.loadtxt(p),
        ".csv": lambda: np.loadtxt(p, delimiter=","),
        ".dat": lambda: np.fromfile(p, dtype="<f4"),
    }
    if p.suffix not in readers:
        raise ValueError(f"activations file {path}: unknown type {p.suffix!r}; "
                         f"valid: {', '.join(readers)} (.dat: raw float32)")
    try:
        data = readers[p.suffix]()
    except Exception as e:  # noqa: BLE001 - numpy, torch and pickle each raise their own
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"activations file {path} is not a readable {p.suffix} array: "
                         f"{first}") from None
    if isinstance(data, torch.Tensor):
        data = data.detach().numpy()
    if not isinstance(data, np.ndarray):
        raise ValueError(f"activations file {path} holds a {type(data).__name__}, not one tensor")
    return data
