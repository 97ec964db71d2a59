"""One layer's operands for ``sparsegrain simulate``: a catalog layer or a weight file, pruned,
with activations read from a file or generated."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..core.arrays import as_float32, require_memory
from ..hardware.inputs import check_density, random_activations
from ..patterns import pattern as make_pattern
from ..patterns import to_matrix
from ..patterns.base import check_sparsity
from .catalog import get_layer
from .weights import load_weights, read_tensors


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
        check_sparsity(sparsity)
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
        raise ValueError("--pattern needs --sparsity, a number in [0, 1)")
    m = to_matrix(w).float()
    if activations is not None:
        a = as_float32(_read_array(activations), f"activations file {activations}")
    else:
        a = random_activations(m.shape[1], 1.0 if act_density is None else act_density, seed)
    return name, m, a


#: activation files read by the weight loader's readers, under its policy
TENSOR_FILES = (".npy", ".pt", ".pth")


def _read_raw(p: Path) -> np.ndarray:
    """A .dat file's little-endian float32 values; a size that is not whole values is refused."""
    size = p.stat().st_size
    if size % 4:
        raise ValueError(f"it holds {size:,} bytes, not a whole number of 4-byte float32 values")
    return np.fromfile(p, dtype="<f4")


#: text and raw activation files: the reader, and the most bytes of array a byte of file can
#: become (text: a float64 per two characters, one digit and a separator; raw: itself)
PLAIN_FILES: dict[str, tuple[Callable[[Path], np.ndarray], int]] = {
    ".txt": (np.loadtxt, 4),
    ".csv": (lambda p: np.loadtxt(p, delimiter=","), 4),
    ".dat": (_read_raw, 1),
}


def _read_array(path: str) -> np.ndarray | torch.Tensor:
    """One array from a .npy or .pt/.pth file (read like weight files: no code run, sizes checked
    first; :func:`~.weights.read_tensors`), a .txt/.csv file or a .dat file of raw float32."""
    p = Path(path)
    what = f"activations file {path}"
    if not p.is_file():
        raise ValueError(f"{what} does not exist")
    if p.suffix in TENSOR_FILES:
        try:
            named = read_tensors(p)
        except ValueError:
            raise
        except Exception as e:  # noqa: BLE001 - any other reader failure: a corrupt or foreign file
            raise _unreadable(what, p.suffix, e) from None
        return _one_tensor(named, what)
    if p.suffix not in PLAIN_FILES:
        raise ValueError(f"{what}: unknown type {p.suffix!r}; valid: "
                         f"{', '.join((*TENSOR_FILES, *PLAIN_FILES))} (.dat: raw float32)")
    read, growth = PLAIN_FILES[p.suffix]
    _require_memory(what, growth * p.stat().st_size)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # loadtxt warns of an empty file; the layer refuses it
            return read(p)
    except Exception as e:  # noqa: BLE001 - numpy raises its own
        raise _unreadable(what, p.suffix, e) from None


def _unreadable(what: str, suffix: str, e: Exception) -> ValueError:
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return ValueError(f"{what} is not a readable {suffix} array: {first}")


def _one_tensor(named: dict[str, torch.Tensor], what: str) -> torch.Tensor:
    """The one tensor a file holds, dense and unquantized; refused if it holds no data or more
    values than the memory available can take as float32."""
    if len(named) != 1:
        names = ", ".join(list(named)[:5]) + (", ..." if len(named) > 5 else "")
        raise ValueError(f"{what} holds {len(named)} tensors ({names or 'none'}); give a file of "
                         "one tensor")
    t = next(iter(named.values()))
    if t.is_meta:
        raise ValueError(f"{what} holds a meta tensor, which holds no data; give real values")
    _require_memory(what, t.numel() * 4)
    if t.is_quantized:
        return t.dequantize()
    return t.to_dense() if t.layout != torch.strided else t


def _require_memory(what: str, need: int) -> None:
    """Refuse activations that would take more memory than is available, before reading them."""
    require_memory(need, f"{what} takes up to {{need}} of memory to read, more than the {{free}} "
                         "available now; give a smaller file")
