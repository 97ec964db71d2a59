"""Hypothesis strategies shared by the pattern tests: weights every listed pattern can tile."""

from __future__ import annotations

import torch
from hypothesis import strategies as st

#: one or two instances of every pattern; all tile any shape drawn by :func:`weights`
SPECS = [
    "unstructured", "vector", "vector:axis=-2", "kernel", "filter", "filter:norm=l2", "channel",
    "block:4x2", "nm:2:4", "bank:4", "pebalanced:3", "pebalanced:5:balance=layer", "csp:3",
    "csp:4:norm=max", "gs:8:1", "gs:4:2:scatter=true", "gs:2:1:block=2x2",
]

sparsities = st.floats(0.0, 0.99)


@st.composite
def shapes(draw: st.DrawFn) -> tuple[int, ...]:
    """2-D, 3-D or 4-D shapes with outputs and 2-D-view columns multiples of 8."""
    dims = draw(st.sampled_from([2, 3, 4]))
    out = 8 * draw(st.integers(1, 3))
    if dims == 2:
        return (out, 8 * draw(st.integers(1, 4)))
    c_in = 8 * draw(st.integers(1, 2))
    return (out, c_in, *(draw(st.integers(1, 3)) for _ in range(dims - 2)))


@st.composite
def weights(draw: st.DrawFn) -> torch.Tensor:
    """A seeded standard-normal weight of a drawn shape (tie-free with probability one)."""
    shape = draw(shapes())
    seed = draw(st.integers(0, 2**31 - 1))
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))
