"""Conformance of every registered format: a mask of the pattern it exploits (unstructured for
the others) encodes, decodes back, survives serialisation and matches its documented formula."""

from __future__ import annotations

import pytest
import torch

from sparsegrain.formats import FORMATS, encode, from_bytes
from sparsegrain.formats.base import FIELDS

from .members import native, weight


@pytest.mark.parametrize("shape", [(128, 96), (64, 16, 3, 3)])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_format_member(fmt, shape, documented_bits):
    cls = FORMATS[fmt]
    assert cls.summary
    spec, params = native(cls.for_pattern)
    w = weight(shape)
    mask = spec.mask(w, 0.7)
    enc = encode(w, fmt, mask=mask, **params)
    rep = enc.storage()
    assert set(rep.bits) <= set(FIELDS) and rep.total_bits == sum(rep.bits.values()) > 0
    kept = w * mask
    back = enc.decode()
    assert back.shape == w.shape and back.dtype == w.dtype
    if cls.exact:
        assert torch.equal(back, kept)
    else:  # values quantised to a codebook, positions kept
        assert not bool(((back != 0) & ~mask).any())
    again = from_bytes(enc.to_bytes())
    assert torch.equal(again.decode(), back) and again.storage().to_dict() == rep.to_dict()
    for field, bits in documented_bits(enc).items():
        assert rep.bits.get(field, 0) == bits, (fmt, field)
