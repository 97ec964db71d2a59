"""Bad input to any pattern is a ValueError that says what was wrong, never a crash."""

from __future__ import annotations

import math

import pytest
import torch
from pattern_strategies import SPECS

import sparsegrain as sg

W = torch.randn(16, 8, 3, 3, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("sparsity", [-0.1, 1.0, 1.5, math.nan, "half"])
def test_sparsity_outside_unit_interval(spec, sparsity):
    with pytest.raises(ValueError, match="sparsity"):
        sg.pattern(spec).mask(W, sparsity)


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("what", ["weight", "score"])
def test_non_finite_weight_or_score(spec, bad, what):
    t = W.clone()
    t[3, 2, 1, 0] = bad
    args = (t, 0.5) if what == "weight" else (W, 0.5, t.abs())
    with pytest.raises(ValueError, match=rf"{what} of shape \(16, 8, 3, 3\) holds 1 NaN or inf"):
        sg.pattern(spec).mask(*args)


@pytest.mark.parametrize("spec", SPECS)
def test_score_shape_mismatch(spec):
    with pytest.raises(ValueError, match=r"score shape \(16, 72\) differs from weight shape"):
        sg.pattern(spec).mask(W, 0.5, W.reshape(16, 72).abs())


@pytest.mark.parametrize("spec", SPECS)
def test_weight_of_wrong_rank(spec):
    with pytest.raises(ValueError, match=r"shape \(72\): patterns take 2-D"):
        sg.pattern(spec).mask(W.reshape(-1)[:72], 0.5)


@pytest.mark.parametrize(
    ("spec", "shape", "rule"),
    [
        ("nm:2:4", (8, 30), r"30 input columns are not a multiple of M = 4"),
        ("nm:2:4", (8, 5, 3, 2), r"30 input columns are not a multiple of M = 4"),
        ("bank:4", (8, 30), r"30 input columns are not a multiple of K = 4"),
        ("pebalanced:64", (32, 30), r"32 output rows are fewer than P = 64"),
    ],
)
def test_untileable_shape_names_shape_and_rule(spec, shape, rule):
    with pytest.raises(ValueError, match=rule) as e:
        sg.pattern(spec).mask(torch.randn(shape), 0.5)
    assert "(" + ", ".join(map(str, shape)) + ")" in str(e.value)
    assert not sg.pattern(spec).is_valid(torch.ones(shape, dtype=torch.bool))
