import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import sparsegrain as sg

from .cases import CASES, sample


@pytest.mark.parametrize("fmt", sorted(CASES))
@given(
    rows=st.integers(1, 24), cols=st.integers(1, 24), density=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**31),
)
def test_decode_gives_the_weight_back(fmt, rows, cols, density, seed):
    w, params = sample(fmt, (rows, cols), density, seed)
    enc = sg.encode(w, fmt, **params)
    d = enc.decode()
    assert d.shape == w.shape and d.dtype == w.dtype
    if hasattr(enc, "codebook") and fmt != "dense":
        # exactly the quantised weight: every kept value becomes its nearest nonzero centroid
        book = torch.from_numpy(enc.codebook)
        nearest = book[1:][(w.reshape(-1, 1) - book[1:]).abs().argmin(1)].reshape(w.shape)
        assert torch.allclose(d, torch.where(w != 0, nearest, torch.zeros(())), atol=1e-6)
    else:
        assert torch.equal(d, w)
    r = enc.storage()
    assert r.nnz == int((w != 0).sum()) and r.total_bits == sum(r.bits.values())


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_conv_weights_round_trip_through_the_channel_last_view(fmt):
    w, params = sample(fmt, (8, 4, 3, 3), 0.4, 7)
    enc = sg.encode(w, fmt, **params)
    assert enc.matrix_shape == (8, 36)
    if "codebook" not in fmt and fmt != "eie":
        assert torch.equal(enc.decode(), w)
    assert enc.decode().shape == w.shape


def test_unknown_format_and_parameter_are_clear_errors():
    with pytest.raises(ValueError, match="unknown format 'xyz'; valid: .*csr"):
        sg.encode(torch.ones(2, 2), "xyz")
    with pytest.raises(ValueError, match="takes no parameter n_pe; it takes: value_bits"):
        sg.encode(torch.ones(2, 2), "csr", n_pe=4)
    with pytest.raises(ValueError, match="mask shape"):
        sg.encode(torch.ones(2, 2), "csr", mask=torch.ones(3, 2, dtype=torch.bool))


ANY_MASK = ["dense", "bitmap", "coo", "csr", "csc", "rcsc", "rle", "bcsr"]
# the formats that hold a pattern's masks whatever their density (besides ANY_MASK)
OWN = {"nm": "nm", "csp": "csp", "gs": "gs"}


@given(
    rows=st.integers(8, 24), cols=st.integers(8, 32), sparsity=st.floats(0.0, 0.95),
    seed=st.integers(0, 2**31), spec=st.sampled_from(sg.patterns.examples()),
)
def test_masks_of_every_pattern_round_trip(rows, cols, sparsity, seed, spec):
    p = sg.pattern(spec)
    shape = (rows, cols)
    try:
        p.check_shape(shape)
    except ValueError:
        return  # the pattern cannot tile this shape
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(shape, generator=g)
    mask = p.mask(w, sparsity)
    kept = w * mask
    fmts = ANY_MASK + [f for f, kind in OWN.items() if p.kind == kind]
    for fmt in fmts:
        params = {"c": p.c} if fmt == "csp" else {}
        if fmt == "nm":
            params = {"n": p.n, "m": p.m}
        if fmt == "gs":
            params = {"b": p.b, "e": p.e, "scatter": p.scatter}
        enc = sg.encode(w, fmt, mask=mask, **params)
        assert torch.equal(enc.decode(), kept), (fmt, spec)
        assert enc.storage().nnz == int(mask.sum()) or fmt == "dense"
