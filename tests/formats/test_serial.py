import dataclasses
import json
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import sparsegrain as sg
from sparsegrain.formats import FORMATS, from_bytes
from sparsegrain.formats.serial import _HEAD, FIELD_KINDS

from .cases import CASES, sample


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("fmt", sorted(CASES))
def test_bytes_round_trip(fmt, packed):
    w, params = sample(fmt, (16, 24), 0.3, 3)
    enc = sg.encode(w, fmt, **params)
    back = from_bytes(enc.to_bytes(packed=packed))
    assert type(back) is type(enc)
    assert torch.equal(back.decode(), enc.decode())
    assert back.storage() == enc.storage()


@pytest.mark.parametrize("fmt", ["bcsr", "csp", "csr", "gs", "nm"])  # what sparsegrain.save writes
def test_packed_buffer_is_the_storage_report_plus_a_header(fmt):
    w, params = sample(fmt, (64, 96), 0.2, 5)
    enc = sg.encode(w, fmt, value_bits=32, **params)
    plain, packed = enc.to_bytes(), enc.to_bytes(packed=True)
    assert len(packed) <= len(plain)
    assert len(packed) <= enc.storage().total_bits / 8 * 1.05 + 2048, fmt


def test_packing_widths_and_a_forged_width_is_refused():
    from sparsegrain.formats.serial import pack, unpack, width

    a = np.array([0, 5, 1023, 7], np.int64)
    assert width(a) == 10 and width(a > 3) == 1 and width(np.array([-1])) is None
    assert np.array_equal(unpack(pack(a, 10), 4, 10, np.dtype(np.int64)), a)
    b = bytearray(sg.encode(torch.randn(8, 8) * (torch.rand(8, 8) < 0.5), "csr")
                  .to_bytes(packed=True))
    forged = bytes(b).replace(b'"bits": ', b'"bits": 9', 1)  # e.g. 4 -> 94 bits
    with pytest.raises(ValueError):
        from_bytes(recrc(forged))


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_corrupt_or_truncated_buffers_are_rejected(fmt):
    w, params = sample(fmt, (16, 24), 0.3, 3)
    b = sg.encode(w, fmt, **params).to_bytes()
    for bad in (b[:-1], b[: len(b) // 2], b[:10]):
        with pytest.raises(ValueError, match="corrupt or truncated|too short"):
            from_bytes(bad)
    for pos in (len(b) // 3, len(b) - 10, 7):
        flipped = bytearray(b)
        flipped[pos] ^= 0x5A
        with pytest.raises(ValueError):
            from_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="bad magic"):
        from_bytes(b"XXXXX" + b[5:])


def recrc(b: bytes) -> bytes:
    """``b`` with its CRC recomputed: what a buggy writer or a forger produces."""
    return b[:-4] + struct.pack("<I", zlib.crc32(b[:-4]))


def _buffer(fmt: str) -> bytes:
    w, params = sample(fmt, (16, 24), 0.3, 3)
    return sg.encode(w, fmt, **params).to_bytes()


BUFFERS = {fmt: _buffer(fmt) for fmt in sorted(CASES)}


@settings(max_examples=400, deadline=None, derandomize=True)
@given(fmt=st.sampled_from(sorted(BUFFERS)), where=st.floats(0, 1, exclude_max=True),
       value=st.integers(0, 255), count=st.integers(1, 3))
def test_a_forged_buffer_is_refused_or_decodes_in_bounded_memory(fmt, where, value, count):
    b = bytearray(BUFFERS[fmt])
    for k in range(count):
        b[(int(where * (len(b) - 4)) + 17 * k) % (len(b) - 4)] = value
    tracemalloc.start()
    try:
        from_bytes(recrc(bytes(b))).decode()
    except ValueError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < 32 * 2**20  # the weight is 16 x 24: nothing may allocate far beyond it


def with_field(b: bytes, field: str, stored: dict) -> bytes:
    """``b`` with header field ``field`` stored as ``stored`` (e.g. ``{"value": 3}``), CRC
    recomputed."""
    _, _, n = _HEAD.unpack_from(b)
    head = json.loads(b[_HEAD.size:_HEAD.size + n])
    head["object"]["fields"][field] = stored
    text = json.dumps(head).encode()
    return recrc(_HEAD.pack(b"SGFMT", 1, len(text)) + text + b[_HEAD.size + n:])


@pytest.mark.parametrize("field, value, message", [
    ("value_bits", -5, "value_bits"), ("dtype", "os.system", "not a weight dtype"),
    ("shape", [1000000, 1000000], "would decode to"), ("shape", [0, 4], "positive sizes"),
    ("shape", "big", "positive sizes"),
])
def test_header_fields_encode_would_refuse_are_refused(field, value, message):
    b = sg.encode(torch.randn(8, 8), "csr").to_bytes()
    key = "tuple" if field == "shape" else "value"
    with pytest.raises(ValueError, match=message):
        from_bytes(with_field(b, field, {key: value}))


@pytest.mark.parametrize("fmt, field, stored, message", [
    ("csr", "value_bits", {"value": 65}, r"value_bits = 65 is outside 1\.\.64 \(a width\)"),
    ("csr", "pointer_bits", {"value": 0}, r"outside 1\.\.64"),
    ("csr", "index_bits", {"value": True}, "not an integer"),
    ("bcsr", "n_kept", {"value": 17}, r"n_kept = 17 is outside 0\.\.16 \(a count\)"),
    ("rle", "fillers", {"value": -1}, r"outside 0\.\.16 \(a count\)"),
    ("rcsc", "n_pe", {"value": 0}, r"n_pe = 0 is outside 1\.\.65536 \(a size\)"),
    ("nm", "m", {"value": 2**16 + 1}, r"outside 1\.\.65536"),
    ("bitmap", "chunk", {"value": -1}, r"chunk = -1 is outside 0\.\.65536"),
    ("gs", "scatter", {"value": 1}, "not true or false"),
    ("csr", "indptr", {"value": 3}, "indptr is a value of no kind"),
    ("csr", "pointer_bits", {"tuple": [32]}, "pointer_bits is not stored as a single value"),
])
def test_a_field_outside_the_bounds_of_its_kind_is_refused(fmt, field, stored, message):
    w, params = sample(fmt, (4, 4), 0.5, 1)
    b = sg.encode(w, fmt, **params).to_bytes()
    with pytest.raises(ValueError, match=message):
        from_bytes(with_field(b, field, stored))


def test_every_scalar_field_of_every_format_has_a_kind():
    for fmt, cls in FORMATS.items():
        for f in dataclasses.fields(cls):
            if not any(t in str(f.type) for t in ("ndarray", "Encoded", "tuple")):
                assert f.name in {**FIELD_KINDS, **cls.field_kinds}, (fmt, f.name, f.type)


def test_a_pointer_past_the_entries_it_points_into_is_refused():
    enc = sg.encode(torch.eye(4), "csr")
    enc.indptr = np.array([0, 1, 2, 3, 5])  # 5 > the 4 column indices
    with pytest.raises(ValueError, match="end within the 4 entries"):
        from_bytes(enc.to_bytes())
