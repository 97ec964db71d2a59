"""Every pattern's masks pass its own validator and land within one group of the target."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import assume, given
from pattern_strategies import SPECS, sparsities, weights

import sparsegrain as sg
from sparsegrain.patterns.bank import Bank
from sparsegrain.patterns.base import keep_count, matrix_shape
from sparsegrain.patterns.csp import CSP
from sparsegrain.patterns.groups import GroupPattern, Unstructured
from sparsegrain.patterns.nm import NM
from sparsegrain.patterns.pebalanced import PEBalanced


def tolerance(p: sg.Pattern, w: torch.Tensor) -> int:
    """Largest allowed |kept - target| in weights: one group of the pattern (half for rounding)."""
    rows, _ = matrix_shape(w.shape)
    if isinstance(p, Unstructured):
        return 0
    if isinstance(p, GroupPattern):
        return math.ceil(int(p.saliency(w.abs())[1].max()) / 2)
    if isinstance(p, Bank):
        return math.ceil(rows * p.k / 2)  # one weight in every bank of every row
    if isinstance(p, PEBalanced):
        return math.ceil(p.p / 2)  # one weight on every PE
    if isinstance(p, CSP):
        return math.ceil(p.c / 2)  # one chunk of one input row
    raise AssertionError(f"no tolerance for {p.spec}")


def reachable(p: sg.Pattern, w: torch.Tensor, sparsity: float) -> int:
    """The target kept count, capped where a pattern cannot keep every weight."""
    target = keep_count(w.numel(), sparsity)
    if isinstance(p, PEBalanced):  # a PE keeps at most its smallest slice: rows // P rows
        rows, cols = matrix_shape(w.shape)
        return min(target, p.p * (rows // p.p) * cols)
    return target


@pytest.mark.parametrize("spec", [s for s in SPECS if not s.startswith("gs")])  # see test_gs
@given(w=weights(), sparsity=sparsities)
def test_mask_passes_own_validator_and_hits_target(spec, w, sparsity):
    p = sg.pattern(spec)
    m = p.mask(w, sparsity)
    assert m.shape == w.shape and m.dtype == torch.bool
    assert p.violation(m) is None
    kept = int(m.sum())
    if isinstance(p, NM):
        assert kept == w.numel() * p.n // p.m
    else:
        assert abs(kept - reachable(p, w, sparsity)) <= tolerance(p, w)


@pytest.mark.parametrize("spec", [s for s in SPECS if s not in ("unstructured", "kernel")])
@given(w=weights(), sparsity=sparsities)
def test_one_extra_weight_breaks_the_pattern(spec, w, sparsity):
    """Turning on one pruned weight next to kept ones is rejected by every structured pattern."""
    p = sg.pattern(spec)
    if isinstance(p, GroupPattern):
        assume(int(p.saliency(w)[1].min()) > 1)  # single-weight groups take any mask
    m = p.mask(w, max(sparsity, 0.3))
    pruned = torch.nonzero(~m.reshape(-1))
    bad = m.clone().reshape(-1)
    bad[pruned[len(pruned) // 2]] = True
    assert not p.is_valid(bad.reshape(m.shape))
