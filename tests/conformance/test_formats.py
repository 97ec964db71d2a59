"""Conformance of every registered format: a mask of the pattern it exploits (unstructured for
the others) encodes, decodes back, survives serialisation and matches its documented formula."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

from sparsegrain.formats import FORMATS, encode, from_bytes
from sparsegrain.formats.base import FIELDS

from .members import native, weight

DOC = Path(__file__).resolve().parents[2] / "docs" / "formats.md"
BLOCKS = dict(re.findall(r"```bits (\w+)\n(.*?)```", DOC.read_text(), re.S))


class Names(dict):
    """Formula names: the given ones, else the encoded weight's attribute of that name."""

    def __init__(self, enc):
        super().__init__()
        self.enc = enc

    def __missing__(self, key):
        return getattr(self.enc, key)


@pytest.mark.parametrize("shape", [(128, 96), (64, 16, 3, 3)])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_format_member(fmt, shape):
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
    rows, cols = enc.matrix_shape
    names = Names(enc)
    names.update(rows=rows, cols=cols, nnz=rep.nnz, padding=rep.padding_entries,
                 ceil=math.ceil, log2=math.log2)
    for line in BLOCKS[fmt].strip().splitlines():
        field, formula = (s.strip() for s in line.split("=", 1))
        assert rep.bits.get(field, 0) == eval(formula, {}, names), (fmt, field)  # noqa: S307
