import math
import re
from pathlib import Path

import pytest

import sparsegrain as sg
from sparsegrain.formats import FORMATS

from .cases import CASES, sample

DOC = Path(__file__).resolve().parents[2] / "docs" / "formats.md"
BLOCKS = dict(re.findall(r"```bits (\w+)\n(.*?)```", DOC.read_text(), re.S))


class Attributes(dict):
    """Formula names: the given ones, else the Encoded's attribute of that name."""

    def __init__(self, enc):
        super().__init__()
        self.enc = enc

    def __missing__(self, key):
        return getattr(self.enc, key)


def test_every_format_has_a_formula_block():
    assert sorted(BLOCKS) == sorted(FORMATS)


@pytest.mark.parametrize("fmt", sorted(CASES))  # every format: tests/conformance/test_formats.py
@pytest.mark.parametrize("seed", [0, 1])
def test_documented_formulas_equal_storage(fmt, seed):
    w, params = sample(fmt, (24, 40), 0.3, seed)
    enc = sg.encode(w, fmt, **params)
    rep = enc.storage()
    rows, cols = enc.matrix_shape
    names = Attributes(enc)
    names.update(rows=rows, cols=cols, nnz=rep.nnz, padding=rep.padding_entries,
                 ceil=math.ceil, log2=math.log2)
    documented = {}
    for line in BLOCKS[fmt].strip().splitlines():
        field, expr = (s.strip() for s in line.split("=", 1))
        documented[field] = int(eval(expr, {"__builtins__": {}}, names))
    assert {k: v for k, v in documented.items() if v} == {k: v for k, v in rep.bits.items() if v}
    assert set(rep.bits) <= set(documented)
