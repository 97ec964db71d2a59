"""Serialised form of an Encoded: magic, version, a JSON header, the raw arrays, a CRC-32.

Layout (little-endian): ``b"SGFMT"``, uint16 version, uint32 header length, the UTF-8 JSON header
(format, scalar fields, and per array its dtype, shape and byte offset), the arrays back to back,
then the CRC-32 of everything before it. A buffer that is truncated, corrupted or of another
version is rejected with a ``ValueError``.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import zlib
from typing import Any

import numpy as np

from .base import FORMATS, Encoded

MAGIC = b"SGFMT"
VERSION = 1
_HEAD = struct.Struct("<5sHI")
_DTYPES = {"bool", "uint8", "uint16", "uint32", "int32", "int64", "float16", "float32", "float64"}


def _flatten(obj: Encoded, arrays: list[np.ndarray]) -> dict[str, Any]:
    """JSON description of ``obj``'s fields; arrays are appended to ``arrays`` by position."""
    out: dict[str, Any] = {"format": obj.fmt, "fields": {}}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, np.ndarray):
            arrays.append(np.ascontiguousarray(v))
            d: Any = {"array": len(arrays) - 1}
        elif isinstance(v, list) and all(isinstance(a, np.ndarray) for a in v):
            arrays.extend(np.ascontiguousarray(a) for a in v)
            d = {"arrays": list(range(len(arrays) - len(v), len(arrays)))}
        elif isinstance(v, Encoded):
            d = {"encoded": _flatten(v, arrays)}
        elif isinstance(v, tuple):
            d = {"tuple": list(v)}
        else:
            d = {"value": v}
        out["fields"][f.name] = d
    return out


def dumps(obj: Encoded) -> bytes:
    arrays: list[np.ndarray] = []
    desc = _flatten(obj, arrays)
    offset, table = 0, []
    for a in arrays:
        table.append({"dtype": a.dtype.name, "shape": list(a.shape), "offset": offset})
        offset += a.nbytes
    header = json.dumps({"object": desc, "arrays": table, "payload": offset}).encode()
    body = b"".join([_HEAD.pack(MAGIC, VERSION, len(header)), header, *(a.tobytes() for a in arrays)])
    return body + struct.pack("<I", zlib.crc32(body))


def _build(desc: dict[str, Any], arrays: list[np.ndarray]) -> Encoded:
    fmt = desc["format"]
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} in buffer; known: {', '.join(FORMATS)}")
    kw: dict[str, Any] = {}
    for name, d in desc["fields"].items():
        if "array" in d:
            kw[name] = arrays[d["array"]]
        elif "arrays" in d:
            kw[name] = [arrays[i] for i in d["arrays"]]
        elif "encoded" in d:
            kw[name] = _build(d["encoded"], arrays)
        elif "tuple" in d:
            kw[name] = tuple(d["tuple"])
        else:
            kw[name] = d["value"]
    return FORMATS[fmt](**kw)


def from_bytes(b: bytes) -> Encoded:
    """Rebuild an Encoded from :meth:`Encoded.to_bytes`; raise ``ValueError`` on a bad buffer."""
    b = bytes(b)
    if len(b) < _HEAD.size + 4 or b[:5] != MAGIC:
        raise ValueError("not a sparsegrain format buffer (bad magic or too short)")
    _, version, n_header = _HEAD.unpack_from(b)
    if version != VERSION:
        raise ValueError(f"format buffer version {version}; this sparsegrain reads version {VERSION}")
    (crc,) = struct.unpack_from("<I", b, len(b) - 4)
    if zlib.crc32(b[:-4]) != crc:
        raise ValueError("format buffer is corrupt or truncated (CRC-32 mismatch)")
    try:
        head = json.loads(b[_HEAD.size : _HEAD.size + n_header])
        start = _HEAD.size + n_header
        if start + head["payload"] != len(b) - 4:
            raise ValueError("payload length differs from the header")
        arrays = []
        for a in head["arrays"]:
            if a["dtype"] not in _DTYPES:
                raise ValueError(f"dtype {a['dtype']!r} not allowed")
            dt = np.dtype(a["dtype"]).newbyteorder("<")
            n = int(np.prod(a["shape"], dtype=np.int64))
            raw = np.frombuffer(b, dtype=dt, count=n, offset=start + a["offset"])
            arrays.append(raw.reshape(a["shape"]).copy())
        return _build(head["object"], arrays)
    except (KeyError, TypeError, IndexError, json.JSONDecodeError, ValueError) as e:
        raise ValueError(f"format buffer is malformed: {e}") from None
