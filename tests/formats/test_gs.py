import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import sparsegrain as sg

from .cases import gs_mask


@given(
    b=st.sampled_from([1, 2, 4, 8, 16]), e_div=st.integers(0, 4), groups=st.integers(1, 4),
    cols=st.integers(16, 70), packs=st.integers(0, 6), seed=st.integers(0, 2**31),
)
def test_every_pack_has_e_weights_per_row_in_distinct_banks(b, e_div, groups, cols, packs, seed):
    e = b >> min(e_div, b.bit_length() - 1)
    r = b // e
    mask = gs_mask(groups * r, cols, b, e, packs, seed)
    w = torch.randn(mask.shape) * mask
    enc = sg.encode(w, "gs", b=b, e=e, mask=mask)
    assert torch.equal(enc.decode(), w)
    lane_rows = enc.lane_rows()
    for p in range(len(enc.values)):
        banks = enc.col_idx[p].astype(int) % b
        assert len(set(banks.tolist())) == b
        assert np.bincount(lane_rows[p] % r, minlength=r).tolist() == [e] * r
    assert enc.nnz == int(mask.sum()) and enc.pack_ptr[-1] == len(enc.values)


def test_scatter_permutes_rows_and_stores_row_ids():
    dense = gs_mask(4, 32, 4, 1, 5, seed=1)
    sparse = gs_mask(4, 32, 4, 1, 2, seed=2)
    mask = torch.cat([dense[:2], sparse[:2], dense[2:], sparse[2:]])  # groups mix densities
    w = torch.randn(mask.shape) * mask
    with pytest.raises(ValueError, match="group 0"):
        sg.encode(w, "gs", b=4, mask=mask)
    enc = sg.encode(w, "gs", b=4, mask=mask, scatter=True)
    assert enc.row_ids.tolist() == [0, 1, 4, 5, 2, 3, 6, 7]
    assert torch.equal(enc.decode(), w)
    assert enc.storage().bits["metadata"] == 8 * 16


def test_rule_breaks_name_the_rule_and_the_group():
    mask = gs_mask(16, 40, 8, 1, 3, seed=0)
    mask[9, 0] = ~mask[9, 0]
    with pytest.raises(ValueError, match=r"format gs cannot hold this mask: .*group 1"):
        sg.encode(torch.randn(16, 40), "gs", mask=mask)
    bank = torch.zeros(8, 16, dtype=torch.bool)
    bank[:, 0] = True  # every row keeps one weight, all in bank 0
    with pytest.raises(ValueError, match="bank"):
        sg.encode(torch.ones(8, 16), "gs", mask=bank)


def test_too_many_columns_for_16_bit_indices():
    with pytest.raises(ValueError, match="at most 65,535 columns"):
        sg.encode(torch.zeros(8, 65_536), "gs")
    assert sg.encode(torch.zeros(8, 65_535), "gs").nnz == 0


def test_bits_follow_the_spec():
    mask = gs_mask(16, 64, 8, 1, 4, seed=3)
    r = sg.encode(torch.randn(16, 64) * mask, "gs", mask=mask).storage()
    nnz = 2 * 4 * 8  # groups x packs x lanes
    assert r.bits == {"values": nnz * 16, "indices": nnz * 16, "pointers": 2 * 32}


def test_a_mask_whose_rows_keep_no_multiple_of_e_is_refused_not_truncated():
    # 9 kept per row with E = 2: packs of E per row would drop the ninth of every row
    with pytest.raises(ValueError, match="format gs cannot hold this mask"):
        sg.encode(torch.randn(4, 9), "gs", b=8, e=2)
