import pytest

import sparsegrain as sg
from sparsegrain.formats import FORMATS

from .cases import CASES, sample


def test_every_format_has_a_formula_block(documented_formats):
    assert documented_formats == sorted(FORMATS)


@pytest.mark.parametrize("fmt", sorted(CASES))  # every format: tests/conformance/test_formats.py
@pytest.mark.parametrize("seed", [0, 1])
def test_documented_formulas_equal_storage(fmt, seed, documented_bits):
    w, params = sample(fmt, (24, 40), 0.3, seed)
    enc = sg.encode(w, fmt, **params)
    rep = enc.storage()
    documented = {k: int(v) for k, v in documented_bits(enc).items()}
    assert {k: v for k, v in documented.items() if v} == {k: v for k, v in rep.bits.items() if v}
    assert set(rep.bits) <= set(documented)
