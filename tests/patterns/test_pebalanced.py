"""pebalanced:P deals rows to PEs round-robin and gives every PE the same count."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from pattern_strategies import sparsities, weights

import sparsegrain as sg
from sparsegrain.patterns import to_matrix


def pe_slices(m: torch.Tensor, p: int) -> list[torch.Tensor]:
    return [m[pe::p] for pe in range(p)]


@given(w=weights(), sparsity=sparsities)
def test_column_balance_keeps_each_pe_s_largest_in_every_column(w, sparsity):
    m = to_matrix(sg.pattern("pebalanced:3").mask(w, sparsity))
    s = to_matrix(w.abs())
    for j in range(s.shape[1]):
        counts = {int(k[:, j].sum()) for k in pe_slices(m, 3)}
        assert len(counts) == 1
        for keep, score in zip(pe_slices(m, 3), pe_slices(s, 3)):
            kept, pruned = score[keep[:, j], j], score[~keep[:, j], j]
            if len(kept) and len(pruned):
                assert kept.min() > pruned.max()


@given(w=weights(), sparsity=sparsities)
def test_layer_balance_keeps_each_pe_s_largest_overall(w, sparsity):
    m = to_matrix(sg.pattern("pebalanced:5:balance=layer").mask(w, sparsity))
    s = to_matrix(w.abs())
    assert len({int(k.sum()) for k in pe_slices(m, 5)}) == 1
    for keep, score in zip(pe_slices(m, 5), pe_slices(s, 5)):
        if keep.any() and (~keep).any():
            assert score[keep].min() > score[~keep].max()


@pytest.mark.parametrize("balance", ["column", "layer"])
def test_unequal_slices_cap_every_pe_at_the_smallest(balance):
    # 7 rows on 3 PEs: PE 0 holds rows 0, 3, 6; PEs 1 and 2 hold two rows each
    m = sg.pattern(f"pebalanced:3:balance={balance}").mask(torch.randn(7, 4), 0.0)
    assert [int(k.sum()) for k in pe_slices(m, 3)] == [8, 8, 8]


def test_denser_columns_get_more_per_pe():
    w = torch.rand(8, 4) * 0.1
    w[:, 0] += 1.0  # column 0 holds the 8 largest weights
    m = sg.pattern("pebalanced:4").mask(w, 0.75)
    assert m[:, 0].all() and int(m.sum()) == 8


def test_validator_names_pe_and_column():
    m = torch.zeros(4, 3, dtype=torch.bool)
    m[0, 2] = m[2, 2] = m[1, 2] = True  # PE 0 keeps 2 in column 2, PE 1 keeps 1
    assert "in column 2, PE 1 keeps 1 but PE 0 keeps 2" in sg.pattern("pebalanced:2").violation(m)
    assert "PE 1 keeps 1 weights but PE 0 keeps 2" in sg.pattern(
        "pebalanced:2:balance=layer"
    ).violation(m)
