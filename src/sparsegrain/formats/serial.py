"""Serialised form of an Encoded: magic, version, a JSON header, the raw arrays, a CRC-32.

Layout (little-endian): ``b"SGFMT"``, uint16 version, uint32 header length, the UTF-8 JSON header
(format, scalar fields, and per array its dtype, shape and byte offset), the arrays back to back,
then the CRC-32 of everything before it. ``packed=True`` stores every non-negative integer or
boolean array in as many bits per element as its largest value needs (an array entry then names
its ``bits``; a file then comes within a header of the storage report's size). A buffer that is
truncated, corrupted or of an unknown version is rejected with a ``ValueError``.
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


def width(a: np.ndarray) -> int | None:
    """Bits per element that hold every value of integer or boolean array ``a`` (None for a
    float array or one with negative values, which is stored as it is)."""
    if a.dtype == bool:
        return 1
    if a.dtype.kind not in "iu" or (a.size and int(a.min()) < 0):
        return None
    return max(1, int(a.max()).bit_length()) if a.size else 1


def pack(a: np.ndarray, bits: int) -> bytes:
    """The elements of ``a`` in ``bits`` bits each, least significant bit first."""
    v = a.ravel().astype(np.uint64)
    planes = (v[:, None] >> np.arange(bits, dtype=np.uint64)) & np.uint64(1)
    return np.packbits(planes.astype(np.uint8).ravel(), bitorder="little").tobytes()


def unpack(b: bytes, n: int, bits: int, dtype: np.dtype) -> np.ndarray:
    """``n`` elements of ``bits`` bits each from ``b`` (the inverse of :func:`pack`)."""
    planes = np.unpackbits(np.frombuffer(b, np.uint8), count=n * bits, bitorder="little")
    v = (planes.reshape(n, bits).astype(np.uint64) << np.arange(bits, dtype=np.uint64)).sum(1)
    return v.astype(dtype)


def dumps(obj: Encoded, packed: bool = False) -> bytes:
    arrays: list[np.ndarray] = []
    desc = _flatten(obj, arrays)
    offset, table, blobs = 0, [], []
    for a in arrays:
        bits = width(a) if packed else None
        blob = a.tobytes() if bits is None else pack(a, bits)
        table.append({"dtype": a.dtype.name, "shape": list(a.shape), "offset": offset,
                      **({} if bits is None else {"bits": bits})})
        blobs.append(blob)
        offset += len(blob)
    header = json.dumps({"object": desc, "arrays": table, "payload": offset}).encode()
    body = b"".join([_HEAD.pack(MAGIC, VERSION, len(header)), header, *blobs])
    return body + struct.pack("<I", zlib.crc32(body))


#: dtypes a decoded weight may have (the header names one; anything else is refused)
WEIGHT_DTYPES = {"float32", "float16", "bfloat16", "float64", "int8", "int16", "int32", "int64",
                 "uint8"}
#: most dense elements a buffer may decode to: 2^24, or 1024 per payload byte (a weight
#: 99.9 % sparse stores about 8 bytes per 1,000 elements), so a forged shape cannot make
#: ``decode`` allocate far beyond what the buffer could describe
MIN_ELEMENTS, ELEMENTS_PER_BYTE = 2**24, 1024


#: the kind of the scalar fields the formats share by name, which bounds them (:func:`_limits`);
#: a format declares any other scalar field's kind in its ``field_kinds``, and a scalar field
#: of no kind is refused
FIELD_KINDS = {
    **dict.fromkeys(["value_bits", "dense_bits", "index_bits", "pointer_bits", "row_bits",
                     "col_bits", "code_bits", "run_bits"], "width"),
    **dict.fromkeys(["n_kept", "fillers"], "count"),
    **dict.fromkeys(["n_pe", "b", "e", "c", "n", "m"], "size"),
    "chunk": "size or 0",
    **dict.fromkeys(["scatter", "bias_column"], "flag"),
    "dtype": "dtype",
}
#: widest stored item (bits) and largest structural parameter (PEs, banks, group or chunk
#: length) a header may give: generous, and independent of the weight's size, since a format
#: may take more PEs or a longer chunk than a small weight has rows or elements
MAX_WIDTH, MAX_SIZE = 64, 2**16


def _limits(kind: str, elements: int) -> tuple[int, int]:
    """Least and greatest value of an integer field of ``kind`` on a weight of ``elements``:
    a width, one item's bits; a count, entries of the weight (kept weights, fillers: each
    filler stands for at least two skipped positions); a size, a structural parameter."""
    return {"width": (1, MAX_WIDTH), "count": (0, elements), "size": (1, MAX_SIZE),
            "size or 0": (0, MAX_SIZE)}[kind]


def _check_fields(desc: dict[str, Any], payload: int) -> None:
    """Refuse header fields ``encode`` could not have written, before anything is built: an
    unknown format or field, a shape that is not 2-4 positive sizes or would decode to more
    elements than the payload can describe, a scalar field of no kind in :data:`FIELD_KINDS`
    or outside its kind's bounds (:func:`_limits`), a dtype outside :data:`WEIGHT_DTYPES`."""
    fmt = desc["format"]
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} in buffer; known: {', '.join(FORMATS)}")
    fields = desc["fields"]
    declared = dataclasses.fields(FORMATS[fmt])
    allowed = {f.name for f in declared}
    required = {f.name for f in declared
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    if not required <= set(fields) <= allowed:
        raise ValueError(f"{fmt} fields {sorted(fields)} are not those of the format "
                         f"({sorted(allowed)})")
    shape = fields["shape"].get("tuple")
    if (not isinstance(shape, list) or not 2 <= len(shape) <= 4
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in shape)):
        raise ValueError(f"shape {shape!r} is not 2 to 4 positive sizes")
    elements = int(np.prod(shape, dtype=object))
    if elements > max(MIN_ELEMENTS, ELEMENTS_PER_BYTE * payload):
        raise ValueError(f"shape {shape} would decode to {elements:,} elements from a "
                         f"{payload:,}-byte payload")
    may_be_none = {f.name for f in declared if f.default is None}
    for name, d in fields.items():
        kind = FORMATS[fmt].field_kinds.get(name, FIELD_KINDS.get(name))
        if kind is None:
            if "value" in d:
                raise ValueError(f"{fmt} field {name} is a value of no kind that can be checked; "
                                 f"kinds are given to {', '.join(FIELD_KINDS)} and a format's "
                                 "own field_kinds")
            if "encoded" in d:
                _check_fields(d["encoded"], payload)
            continue
        if "value" not in d:
            raise ValueError(f"{fmt} field {name} is not stored as a single value")
        v = d["value"]
        if v is None and name in may_be_none:
            continue
        if kind == "dtype":
            if v not in WEIGHT_DTYPES:
                raise ValueError(f"dtype {v!r} is not a weight dtype; valid: "
                                 f"{', '.join(sorted(WEIGHT_DTYPES))}")
        elif kind == "flag":
            if not isinstance(v, bool):
                raise ValueError(f"field {name} = {v!r} is not true or false")
        elif not isinstance(v, int) or isinstance(v, bool):
            raise ValueError(f"field {name} = {v!r} is not an integer")
        else:
            lo, hi = _limits(kind, elements)
            if not lo <= v <= hi:
                raise ValueError(f"field {name} = {v} is outside {lo}..{hi} (a {kind})")


def _check_arrays(desc: dict[str, Any], arrays: list[np.ndarray]) -> None:
    """Refuse integer arrays ``encode`` could not have written: every index, count and pointer
    of every format lies in 0..(elements of the weight), and a pointer array (``*ptr*``)
    starts at 0, never decreases and ends within the largest other array of its object (the
    one it points into). This bounds what ``decode`` allocates by the dense size and the
    payload. A one-byte array (bitmap bytes, codes, zero runs, in-group indices) may hold any
    byte, whatever the weight's size: ``decode`` checks what it indexes."""
    shape = desc["fields"]["shape"]["tuple"]
    elements = int(np.prod(shape, dtype=object))
    held = {name: [arrays[i] for i in ([d["array"]] if "array" in d else d.get("arrays", []))]
            for name, d in desc["fields"].items()}
    longest = max((a.size for name, own in held.items() if "ptr" not in name for a in own),
                  default=0)
    for name, d in desc["fields"].items():
        if "encoded" in d:
            _check_arrays(d["encoded"], arrays)
        for a in held[name]:
            if a.dtype.kind not in "iu" or not a.size:
                continue
            top = elements if a.dtype.itemsize > 1 else 255
            if int(a.min()) < 0 or int(a.max()) > top:
                raise ValueError(f"{name} holds values outside 0..{top}")
            if "ptr" in name and (int(a.flat[0]) != 0 or bool((np.diff(a.ravel()) < 0).any())
                                  or int(a.flat[-1]) > longest):
                raise ValueError(f"pointer array {name} does not start at 0, rise and end "
                                 f"within the {longest:,} entries it points into")


def _build(desc: dict[str, Any], arrays: list[np.ndarray]) -> Encoded:
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
    return FORMATS[desc["format"]](**kw)


def from_bytes(b: bytes) -> Encoded:
    """Rebuild an Encoded from :meth:`Encoded.to_bytes`; raise ``ValueError`` on a bad buffer.

    Beyond the CRC (accidents), every header field is checked before anything is built
    (:func:`_check_fields`), every array must lie inside the payload, and the object is decoded
    once so that an index or pointer pointing outside the weight is refused here rather than
    failing later: a forged buffer gives a ValueError, never a crash or a huge allocation.
    """
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
        payload = len(b) - 4 - start
        if head["payload"] != payload:
            raise ValueError("payload length differs from the header")
        _check_fields(head["object"], payload)
        arrays = [_array(b, a, start, payload) for a in head["arrays"]]
        _check_arrays(head["object"], arrays)
        obj = _build(head["object"], arrays)
    except (KeyError, TypeError, IndexError, AttributeError, json.JSONDecodeError,
            UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"format buffer is malformed: {e}") from None
    try:
        obj.decode()
    except Exception as e:  # noqa: BLE001 - any failure here is the buffer's inconsistency
        raise ValueError(f"format buffer is inconsistent: {type(e).__name__}: {e}") from None
    return obj


def _array(b: bytes, a: dict[str, Any], start: int, payload: int) -> np.ndarray:
    """One array of the table, checked to lie inside the payload before it is read."""
    if a["dtype"] not in _DTYPES:
        raise ValueError(f"dtype {a['dtype']!r} not allowed")
    shape, offset = a["shape"], a["offset"]
    if not isinstance(shape, list) or not all(isinstance(v, int) and v >= 0 for v in shape):
        raise ValueError(f"array shape {shape!r} is not a list of sizes")
    dt = np.dtype(a["dtype"]).newbyteorder("<")
    n = int(np.prod(shape, dtype=object))
    bits = a.get("bits")
    if bits is not None and (not isinstance(bits, int) or isinstance(bits, bool)
                             or not 1 <= bits <= 8 * dt.itemsize or dt.kind not in "biu"):
        raise ValueError(f"a {a['dtype']} array cannot be packed in {bits!r} bits")
    size = n * dt.itemsize if bits is None else -(-n * bits // 8)
    if not isinstance(offset, int) or offset < 0 or offset + size > payload:
        raise ValueError(f"array of {n:,} {a['dtype']} at offset {offset} leaves the payload")
    if bits is not None:
        return unpack(b[start + offset : start + offset + size], n, bits, dt).reshape(shape)
    return np.frombuffer(b, dtype=dt, count=n, offset=start + offset).reshape(shape).copy()
