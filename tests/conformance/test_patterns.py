"""Conformance of every registered pattern: its masks obey its own validator, land near the
target (or its structural sparsity), and shapes it cannot tile are refused naming the shape."""

from __future__ import annotations

import pytest
import torch

from sparsegrain.patterns import PATTERNS, pattern
from sparsegrain.patterns.base import shape_str

from .members import weight

SHAPES = [(64, 96), (32, 16, 3, 3), (64, 32, 5), (10, 7)]


@pytest.mark.parametrize("kind", list(PATTERNS))
def test_pattern_member(kind):
    cls = PATTERNS[kind]
    assert cls.summary and cls.forms
    p = pattern(cls.example or kind)
    assert pattern(p.spec) == p and p.geometry.kind == kind
    for shape in SHAPES:
        w = weight(shape)
        try:
            p.check_shape(shape)
        except ValueError as e:
            assert shape_str(shape) in str(e)
            with pytest.raises(ValueError, match=r"cannot tile"):
                p.mask(w, 0.5)
            continue
        for s in (0.5, 0.9):  # below 50 %, some patterns cap what they can keep (GS packs)
            m = p.mask(w, s)
            assert m.shape == w.shape and m.dtype == torch.bool
            assert p.violation(m) is None, (shape, s)
            target = s if p.structural_sparsity is None else p.structural_sparsity
            assert abs(float((~m).float().mean()) - target) <= 0.1, (shape, s)
