"""A sparsified model on disk: its encoded weights, not the dense ones.

:func:`save` writes one safetensors file: every kernel layer's Encoded in the packed serial form
(``formats.serial``, integer arrays in the bits their values need) as a uint8 tensor
``<layer>.__encoded__``, every other tensor of the model's state as it is, and a small manifest in
the file's metadata (which layers are sparse, as Linear or Conv2d). :func:`load` puts those layers
back into a skeleton of the same architecture (any weights; they are replaced) and loads the rest.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..core.files import write_atomic
from ..formats.serial import from_bytes
from ..kernels.build import from_encoded
from . import ops
from .compact import CompactLayer
from .recurrent import SparseRNN
from .sparsify import KernelLayer, SparseConv1d, SparseConv2d, set_module, sparse_layer

ENCODED = ".__encoded__"
MANIFEST = "sparsegrain"
#: version 2 records each sparse layer's full geometry; version 1 files (kind only) still load
VERSION = 2
READS = (1, 2)


def save(model: nn.Module, path: str | Path) -> Path:
    """Write ``model`` (sparsified by :func:`~.sparsify.sparsify`) to the safetensors file
    ``path`` (atomically; never through a symbolic link); returns the path."""
    from safetensors.torch import save as to_bytes

    if not isinstance(model, nn.Module):
        raise ValueError(f"save takes a torch.nn.Module, got {type(model).__name__}")
    recurrent = [n for n, m in model.named_modules() if isinstance(m, SparseRNN)]
    if recurrent:
        raise ValueError(f"{recurrent[0]} is a sparse LSTM/GRU, which save does not write yet; "
                         "save the pruned model's state dict and sparsify it after loading")
    compact = [n for n, m in model.named_modules() if isinstance(m, CompactLayer)]
    if compact:
        raise ValueError(f"{compact[0]} is a compact dense layer, which save does not write yet; "
                         "save the pruned model's state dict and sparsify it after loading")
    report = getattr(model, "shrink_report", None)
    if report is not None and report.removed:
        raise ValueError("the model was shrunk (sparsify(shrink=True) cut channels, so layers "
                         "changed shape), which save does not write yet; save the pruned model's "
                         "state dict and sparsify it after loading")
    layers = {n: m for n, m in model.named_modules() if isinstance(m, KernelLayer)}
    if not layers:
        raise ValueError("the model has no sparse layer to save; run "
                         "sparsegrain.sparsify(model, ...) first")
    missing = [n for n, m in layers.items() if m.kernel.encoded is None]
    if missing:
        raise ValueError(f"layer {missing[0]} holds a kernel without its Encoded; build it with "
                         "sparsify or sparsegrain.kernels.build.from_encoded")
    tensors = {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}
    manifest: dict[str, Any] = {"version": VERSION, "layers": {}}
    for name, m in layers.items():
        blob = np.frombuffer(m.kernel.encoded.to_bytes(packed=True), np.uint8)
        tensors[name + ENCODED] = torch.from_numpy(blob.copy())
        manifest["layers"][name] = geometry(m)
    path = Path(path)
    return write_atomic(path.parent, path.name,
                        to_bytes(tensors, metadata={MANIFEST: json.dumps(manifest)}))


def geometry(layer: nn.Module) -> dict[str, Any]:
    """What a sparse or dense Linear/Conv2d layer's saved form must match: its kind, its
    weight's (out, in) sizes and, for a convolution, its kernel, stride, padding and dilation."""
    kind = ("conv2d" if isinstance(layer, (nn.Conv2d, SparseConv2d))
            else "conv1d" if isinstance(layer, (nn.Conv1d, SparseConv1d)) else "linear")
    if isinstance(layer, KernelLayer):
        out, cols = layer.kernel.shape
    else:
        out, cols = layer.weight.shape[0], layer.weight[0].numel()
    geo: dict[str, Any] = {"kind": kind, "shape": [int(out), int(cols)]}
    if kind != "linear":  # a sparse Conv1d holds its sizes as a height-1 Conv2d's
        skip = 1 if isinstance(layer, SparseConv1d) else 0
        geo |= {k: [int(v) for v in getattr(layer, k)[skip:]]
                for k in ("kernel_size", "stride", "padding", "dilation")}
    return geo


def load(path: str | Path, skeleton: nn.Module) -> nn.Module:
    """The model saved at ``path``, built into ``skeleton`` (the same architecture, dense
    layers where the saved model had sparse ones) in place; returns it. Everything is checked
    against the skeleton (every layer's geometry, every tensor's name and shape) before the
    skeleton is touched: a file that does not fit leaves it as it was."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no saved model at {path}")
    try:
        with safe_open(str(path), "pt") as f:
            meta = (f.metadata() or {}).get(MANIFEST)
            if meta is None:
                raise ValueError(f"{path} is a safetensors file but not one sparsegrain.save wrote")
            manifest = json.loads(meta)
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not a readable saved model: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("version") not in READS:
        raise ValueError(f"{path} was saved in version {manifest.get('version')}; this "
                         f"sparsegrain reads versions {', '.join(map(str, READS))}")
    built = {}
    for name, saved in manifest["layers"].items():
        blob = tensors.pop(name + ENCODED, None)
        if blob is None:
            raise ValueError(f"{path} lists layer {name} but holds no encoding for it")
        built[name] = _layer(skeleton, name, saved, blob.numpy().tobytes())
    replaced = {name: skeleton.get_submodule(name) for name in built}
    for name, layer in built.items():
        set_module(skeleton, name, layer)
    try:
        _check_fits(skeleton, tensors, path)
    except ValueError:
        for name, old in replaced.items():
            set_module(skeleton, name, old)
        raise
    skeleton.load_state_dict(tensors)
    return skeleton


def _check_fits(model: nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    """A ValueError unless ``tensors`` name exactly ``model``'s state, each in its shape."""
    want = model.state_dict()
    missing, unexpected = sorted(set(want) - set(tensors)), sorted(set(tensors) - set(want))
    if missing or unexpected:
        raise ValueError(f"{path} does not fit this skeleton: missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]}")
    wrong = [k for k in want if tuple(want[k].shape) != tuple(tensors[k].shape)]
    if wrong:
        k = wrong[0]
        raise ValueError(f"{path} does not fit this skeleton: {k} is {tuple(tensors[k].shape)} "
                         f"in the file, {tuple(want[k].shape)} in the skeleton")


def _layer(skeleton: nn.Module, name: str, saved: str | dict[str, Any], blob: bytes
           ) -> KernelLayer:
    """The sparse layer ``name`` from its saved encoding, its geometry checked against the
    skeleton's layer (a version-1 entry names the kind only)."""
    kind = saved["kind"] if isinstance(saved, dict) else saved
    try:
        old = skeleton.get_submodule(name)
    except AttributeError:
        raise ValueError(f"the skeleton has no layer {name}") from None
    want = {"linear": nn.Linear, "conv1d": nn.Conv1d, "conv2d": nn.Conv2d}[kind]
    if not isinstance(old, (want, KernelLayer)):
        raise ValueError(f"the skeleton's {name} is a {type(old).__name__}, the saved layer a "
                         f"{want.__name__}")
    kernel = from_encoded(from_bytes(blob))
    have = geometry(old)
    expected = saved if isinstance(saved, dict) else {"kind": kind, "shape": list(kernel.shape)}
    if list(kernel.shape) != expected["shape"]:
        raise ValueError(f"{name}: the saved encoding is {tuple(kernel.shape)}, its entry says "
                         f"{tuple(expected['shape'])}")
    differ = [k for k in expected if k in have and have[k] != expected[k]]
    if differ:
        k = differ[0]
        raise ValueError(f"the saved {name} has {k} {expected[k]}, the skeleton's {have[k]}")
    if isinstance(old, KernelLayer):  # a skeleton already sparse: its geometry, the saved kernel
        new = copy.deepcopy(old)
        new.kernel, new.number = kernel, ops.number(kernel)
        return new
    return sparse_layer(kernel, old)
