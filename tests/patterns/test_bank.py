"""bank:K keeps the largest scores of every bank, the same count in every bank."""

from __future__ import annotations

import torch
from hypothesis import given
from pattern_strategies import sparsities, weights

import sparsegrain as sg
from sparsegrain.patterns import to_matrix
from sparsegrain.patterns.base import keep_count


def test_hand_made_row():
    w = torch.tensor([[8.0, -1, 7, 2, 3, -6, 5, 4]])
    m = sg.pattern("bank:2").mask(w, 0.5)
    assert m.tolist() == [[True, False, True, False, False, True, True, False]]


@given(w=weights(), sparsity=sparsities)
def test_every_bank_keeps_its_own_largest(w, sparsity):
    m = to_matrix(sg.pattern("bank:4").mask(w, sparsity))
    s = to_matrix(w.abs())
    size = s.shape[1] // 4
    for r in range(s.shape[0]):
        for b in range(4):
            bank = s[r, b * size:(b + 1) * size].tolist()
            best = sorted(range(size), key=lambda c: -bank[c])[: keep_count(size, sparsity)]
            kept = torch.nonzero(m[r, b * size:(b + 1) * size]).flatten().tolist()
            assert sorted(best) == kept


def test_banks_are_column_segments_of_the_channel_last_view():
    w = torch.zeros(2, 4, 1, 2)  # 2-D view: 2 x 8, columns (kw, c_in)
    w[:, :, 0, 0] = torch.arange(4.0) + 1  # view columns 0..3: bank 0
    w[:, :, 0, 1] = 10 * (torch.arange(4.0) + 1)  # view columns 4..7: bank 1
    m = to_matrix(sg.pattern("bank:2").mask(w, 0.75))
    assert m.tolist() == [[False, False, False, True, False, False, False, True]] * 2


def test_validator_names_the_unbalanced_bank():
    m = torch.tensor([[True, False, True, False], [True, False, False, False]])
    assert "row 1, bank 1 keeps 0" in sg.pattern("bank:2").violation(m)
