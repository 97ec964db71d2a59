import numpy as np
import pytest
import torch

import sparsegrain as sg


def test_two_four_stores_two_values_and_two_bit_indices_per_group():
    w = torch.tensor([[0.0, 1.5, 0.0, -2.0, 3.0, 0.0, 0.0, 0.0]])
    enc = sg.encode(w, "nm")
    assert enc.values.tolist() == [[1.5, -2.0, 3.0, 0.0]]
    assert enc.indices.tolist() == [[1, 3, 0, 1]]  # the padding slot takes the first free position
    r = enc.storage()
    assert r.bits == {"values": 3 * 16, "indices": 3 * 2, "padding": 1 * (16 + 2)}
    assert r.padding_entries == 1 and torch.equal(enc.decode(), w)


def test_a_non_nm_mask_names_the_row_and_columns():
    w = torch.ones(3, 8)
    w[2, 4:7] = 0
    w[:2, 1::2] = 0
    with pytest.raises(ValueError, match=r"nm:2:4: row 2, columns 0..3 keep 4 > N = 2"):
        sg.encode(w, "nm")
    with pytest.raises(ValueError, match="not a multiple of M = 4"):
        sg.encode(torch.ones(2, 6), "nm", n=2, m=4)


def test_other_n_and_m():
    w = torch.randn(4, 16)
    w = w * sg.pattern("nm:1:8").mask(w, 0.5)
    enc = sg.encode(w, "nm", n=1, m=8)
    assert enc.values.shape == (4, 2) and enc.storage().bits["indices"] == 8 * 3
    assert np.array_equal(enc.decode().numpy(), w.numpy())
