"""csp:C keeps a prefix of whole output-channel chunks per input row, at the closest sparsity."""

from __future__ import annotations

import torch
from hypothesis import given
from pattern_strategies import sparsities, weights

import sparsegrain as sg
from sparsegrain.patterns import to_matrix
from sparsegrain.patterns.base import keep_count


def inputs_by_outputs(t: torch.Tensor) -> torch.Tensor:
    return to_matrix(t).t()


def test_hand_made_layer():
    # W[o, i] of a Linear layer: 4 outputs, 2 inputs; csp:2 chunks outputs {0,1} and {2,3}
    w = torch.tensor([[5.0, 1.0], [4.0, 1.0], [1.0, 3.0], [1.0, 3.0]])
    # tail norms: input 0: [11, 2], input 1: [8, 6]; keeping 6 of 8 weights drops input 0's tail
    m = sg.pattern("csp:2").mask(w, 0.25)
    assert m.t().tolist() == [[True, True, False, False], [True, True, True, True]]


def test_last_chunk_is_narrower():
    p = sg.pattern("csp:4")
    w = torch.arange(1.0, 11.0).repeat(3, 1).t()  # 10 outputs x 3 inputs; chunks 4, 4, 2
    m = p.mask(w, 0.2)
    assert p.violation(m) is None
    assert m.sum(0).tolist() == [8, 8, 8]  # every input keeps chunks 0 and 1


@given(w=weights(), sparsity=sparsities)
def test_threshold_is_the_closest_achievable(w, sparsity):
    p = sg.pattern("csp:3")
    m = inputs_by_outputs(p.mask(w, sparsity))
    tail = p.tail_norms(w)
    rows, n = tail.shape
    c_out = m.shape[1]
    width = (p.chunk_ends(c_out)[1:] - p.chunk_ends(c_out)[:-1]).expand(rows, n).reshape(-1)
    target = keep_count(w.numel(), sparsity)
    # every threshold t at once: keep the cells whose tail norm is >= t
    ts = torch.cat([tail.reshape(-1), torch.tensor([float("inf")])])
    reachable = ((tail.reshape(1, -1) >= ts[:, None]) * width).sum(1)
    assert abs(int(m.sum()) - target) == int((reachable - target).abs().min())
    # and the kept cells are exactly those above some threshold
    kept = m[:, p.chunk_ends(c_out)[:-1]]
    if kept.any() and (~kept).any():
        assert tail[kept].min() > tail[~kept].max()


def test_all_zero_rows_are_pruned_first():
    w = torch.randn(8, 6)
    w[:, 2] = 0.0  # input 2 has no magnitude at all
    m = sg.pattern("csp:4").mask(w, 8 / 48)
    assert not m[:, 2].any() and m.sum() == 40


def test_validator_names_the_first_offending_row():
    p = sg.pattern("csp:2")
    m = torch.ones(4, 3, dtype=torch.bool)  # W[o, i]: 4 outputs, 3 inputs
    m[3, 1] = False
    assert "input row 1" in p.violation(m) and "chunk 1 is partly kept" in p.violation(m)
    m[2:, 1] = False
    m[:2, 2] = False
    assert "input row 2" in p.violation(m) and "chunk 1 is kept after a pruned chunk" in p.violation(m)
