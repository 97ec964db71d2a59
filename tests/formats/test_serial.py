import pytest
import torch

import sparsegrain as sg
from sparsegrain.formats import from_bytes

from .cases import CASES, sample


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_bytes_round_trip(fmt):
    w, params = sample(fmt, (16, 24), 0.3, 3)
    enc = sg.encode(w, fmt, **params)
    back = from_bytes(enc.to_bytes())
    assert type(back) is type(enc)
    assert torch.equal(back.decode(), enc.decode())
    assert back.storage() == enc.storage()


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
