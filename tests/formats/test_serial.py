import struct
import tracemalloc
import zlib

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import sparsegrain as sg
from sparsegrain.formats import from_bytes

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
    import numpy as np

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


@pytest.mark.parametrize("field, value, message", [
    ("value_bits", -5, "value_bits"), ("dtype", "os.system", "not a weight dtype"),
    ("shape", [1000000, 1000000], "would decode to"), ("shape", [0, 4], "positive sizes"),
    ("shape", "big", "positive sizes"),
])
def test_header_fields_encode_would_refuse_are_refused(field, value, message):
    import json

    from sparsegrain.formats.serial import _HEAD

    b = sg.encode(torch.randn(8, 8), "csr").to_bytes()
    _, _, n = _HEAD.unpack_from(b)
    head = json.loads(b[_HEAD.size:_HEAD.size + n])
    key = "tuple" if field == "shape" else "value"
    head["object"]["fields"][field] = {key: value}
    text = json.dumps(head).encode()
    body = _HEAD.pack(b"SGFMT", 1, len(text)) + text + b[_HEAD.size + n:-4]
    with pytest.raises(ValueError, match=message):
        from_bytes(recrc(body + bytes(4)))
