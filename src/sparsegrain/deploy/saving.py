"""A sparsified model on disk: its encoded weights, not the dense ones.

:func:`save` writes one safetensors file: every kernel layer's Encoded in the packed serial form
(``formats.serial``, integer arrays in the bits their values need) as a uint8 tensor
``<layer>.__encoded__``, every other tensor of the model's state as it is (a compact layer's
smaller weight and the channels it keeps among them), and a small manifest in the file's
metadata (which layers are sparse or compact, with their geometry). :func:`load` puts those
layers back into a skeleton of the same architecture (any weights; they are replaced) and loads
the rest.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
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
from .shrink import LAYERS, NORMS, BorderFold, channels, resize
from .sparsify import (
    ConvKernelLayer,
    KernelLayer,
    SparseConv1d,
    SparseConv2d,
    set_module,
    sparse_layer,
)

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
    layers = {n: m for n, m in model.named_modules() if isinstance(m, KernelLayer)}
    compact = {n: m for n, m in model.named_modules() if isinstance(m, CompactLayer)}
    report = getattr(model, "shrink_report", None)
    shrunk = report is not None and report.removed > 0
    if not layers and not compact and not shrunk:
        raise ValueError("the model has no sparse or compact layer to save; run "
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
        manifest["layers"][name] = geometry(m) | (
            {"direct": m.direct} if isinstance(m, ConvKernelLayer) else {})
    manifest["compact"] = {name: geometry(m) for name, m in compact.items()}
    if shrunk:  # layers changed shape: the skeleton's follow
        manifest["shrunk"] = report.resized
        manifest["folds"] = [n for n, m in model.named_modules() if isinstance(m, BorderFold)]
    path = Path(path)
    return write_atomic(path.parent, path.name,
                        to_bytes(tensors, metadata={MANIFEST: json.dumps(manifest)}))


def geometry(layer: nn.Module) -> dict[str, Any]:
    """What a sparse, compact or dense Linear/Conv layer's saved form must match: its kind, its
    weight's (out, in) sizes (a compact layer's in full: out x in channels for a convolution,
    out x in x kernel for a sparse one) and, for a convolution, its kernel, stride, padding and
    dilation."""
    if isinstance(layer, CompactLayer):
        kind = "linear" if layer.linear else "conv1d" if layer.weight.dim() == 3 else "conv2d"
        geo: dict[str, Any] = {"kind": kind, "shape": [layer.width, layer.reads]}
        if kind != "linear":
            geo |= {"kernel_size": list(layer.weight.shape[2:]),
                    **{k: _sizes(getattr(layer, k)) for k in ("stride", "padding", "dilation")}}
        return geo
    kind = ("conv2d" if isinstance(layer, (nn.Conv2d, SparseConv2d))
            else "conv1d" if isinstance(layer, (nn.Conv1d, SparseConv1d)) else "linear")
    if isinstance(layer, KernelLayer):
        out, cols = layer.kernel.shape
    else:
        out, cols = layer.weight.shape[0], layer.weight[0].numel()
    geo = {"kind": kind, "shape": [int(out), int(cols)]}
    if kind != "linear":  # a sparse Conv1d holds its sizes as a height-1 Conv2d's
        skip = 1 if isinstance(layer, SparseConv1d) else 0
        geo |= {k: _sizes(getattr(layer, k)[skip:])
                for k in ("kernel_size", "stride", "padding", "dilation")}
    return geo


def _sizes(value: Any) -> list[int] | str:
    """A convolution's sizes as a list of ints (a padding given as a word stays the word)."""
    return value if isinstance(value, str) else [int(v) for v in value]


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
    replaced: list[tuple[str, nn.Module]] = []

    def put(name: str, new: nn.Module) -> None:
        replaced.append((name, skeleton.get_submodule(name)))
        set_module(skeleton, name, new)

    try:
        _reshape(skeleton, manifest, tensors, put)
        for name, saved in manifest["layers"].items():
            blob = tensors.pop(name + ENCODED, None)
            if blob is None:
                raise ValueError(f"{path} lists layer {name} but holds no encoding for it")
            put(name, _layer(skeleton, name, saved, blob.numpy().tobytes()))
        for name, saved in manifest.get("compact", {}).items():
            put(name, _compact(skeleton, name, saved, tensors))
        _check_fits(skeleton, tensors, path)
    except ValueError:
        for name, old in reversed(replaced):
            set_module(skeleton, name, old)
        raise
    skeleton.load_state_dict(tensors)
    return skeleton


def _reshape(skeleton: nn.Module, manifest: dict[str, Any], tensors: dict[str, torch.Tensor],
             put: Callable[[str, nn.Module], None]) -> None:
    """A shrunk model's changes, made to the skeleton through ``put``: its border maps wrapped
    around their convolutions, then each layer and BatchNorm shrink resized (a copy) given its
    new channel counts, where the skeleton's are the ones it had before."""
    for name in manifest.get("folds", []):
        conv = _module(skeleton, name)
        cut = [tensors.get(f"{name}.{k}") for k in ("cut_weight", "cut_values")]
        if not isinstance(conv, (nn.Conv1d, nn.Conv2d)) or cut[0] is None or cut[1] is None:
            raise ValueError(f"the saved {name} is a convolution with a border map; the "
                             f"skeleton's is a {type(conv).__name__} or the file holds no map")
        put(name, BorderFold(conv, torch.zeros(cut[0].shape), torch.zeros(cut[1].shape)))
    for name, (was, now) in manifest.get("shrunk", {}).items():
        if isinstance(_module(skeleton, name), BorderFold):
            name += ".conv"
        module = _module(skeleton, name)
        if not isinstance(module, (*LAYERS, *NORMS)) or channels(module) != tuple(was):
            have = channels(module) if isinstance(module, (*LAYERS, *NORMS)) else type(module).__name__
            raise ValueError(f"the saved {name} was shrunk from (inputs, outputs, bias) "
                             f"{tuple(was)}; the skeleton's is {have}")
        new = copy.deepcopy(module)
        resize(new, *now)
        put(name, new)


def _module(skeleton: nn.Module, name: str) -> nn.Module:
    """The skeleton's module ``name``, or a ValueError."""
    try:
        return skeleton.get_submodule(name)
    except AttributeError:
        raise ValueError(f"the skeleton has no layer {name}") from None


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


def _skeleton_layer(skeleton: nn.Module, name: str, kind: str) -> nn.Module:
    """The skeleton's layer ``name``, a ValueError unless it is the saved kind (dense, or a
    layer of the project already)."""
    old = _module(skeleton, name)
    want = {"linear": nn.Linear, "conv1d": nn.Conv1d, "conv2d": nn.Conv2d}[kind]
    if not isinstance(old, (want, KernelLayer, CompactLayer)):
        raise ValueError(f"the skeleton's {name} is a {type(old).__name__}, the saved layer a "
                         f"{want.__name__}")
    return old


def _differ(name: str, saved: dict[str, Any], have: dict[str, Any]) -> None:
    """A ValueError naming the first size the saved layer and the skeleton's disagree on."""
    differ = [k for k in saved if k in have and have[k] != saved[k]]
    if differ:
        k = differ[0]
        raise ValueError(f"the saved {name} has {k} {saved[k]}, the skeleton's {have[k]}")


def _compact(skeleton: nn.Module, name: str, saved: dict[str, Any],
             tensors: dict[str, torch.Tensor]) -> CompactLayer:
    """The compact layer ``name`` in the skeleton's layer's geometry, keeping the channels the
    file names (its values come with the rest of the state)."""
    old = _skeleton_layer(skeleton, name, saved["kind"])
    if isinstance(old, CompactLayer):
        raise ValueError(f"the skeleton's {name} is compact already; load into the dense model")
    have = geometry(old)
    have["shape"] = list(old.weight.shape[:2])
    _differ(name, saved, have)
    mask = torch.zeros(old.weight.shape, dtype=torch.bool)
    every = (torch.arange(n) for n in old.weight.shape[:2])
    outputs, inputs = (tensors.get(f"{name}.{k}", all_of) for k, all_of in
                       zip(("outputs", "inputs"), every, strict=True))
    if outputs.dtype is not torch.int64 or inputs.dtype is not torch.int64 or not (
            0 <= min(outputs.min(), inputs.min()) and outputs.max() < mask.shape[0]
            and inputs.max() < mask.shape[1]):
        raise ValueError(f"{name}: the file's kept channels are not channel numbers of this layer")
    mask[outputs.unsqueeze(1), inputs] = True
    return CompactLayer(old, old.weight, mask)


def _layer(skeleton: nn.Module, name: str, saved: str | dict[str, Any], blob: bytes
           ) -> KernelLayer:
    """The sparse layer ``name`` from its saved encoding, its geometry checked against the
    skeleton's layer (a version-1 entry names the kind only)."""
    kind = saved["kind"] if isinstance(saved, dict) else saved
    old = _skeleton_layer(skeleton, name, kind)
    if isinstance(old, CompactLayer):
        raise ValueError(f"the skeleton's {name} is compact; load into the dense model")
    kernel = from_encoded(from_bytes(blob))
    have = geometry(old)
    expected = saved if isinstance(saved, dict) else {"kind": kind, "shape": list(kernel.shape)}
    if list(kernel.shape) != expected["shape"]:
        raise ValueError(f"{name}: the saved encoding is {tuple(kernel.shape)}, its entry says "
                         f"{tuple(expected['shape'])}")
    _differ(name, expected, have)
    if isinstance(old, KernelLayer):  # a skeleton already sparse: its geometry, the saved kernel
        new = copy.deepcopy(old)
        new.kernel, new.number = kernel, ops.number(kernel)
    else:
        new = sparse_layer(kernel, old)
    if isinstance(new, ConvKernelLayer):  # sparsify's choice of direct product or patches
        new.direct = bool(expected.get("direct", True))
    return new
