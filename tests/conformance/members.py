"""What the conformance suites derive for any registered member, so that a new member is tested
without being named in a test: the pattern whose masks it exploits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from sparsegrain.patterns import Geometry, Pattern, examples, pattern


def native(for_pattern: Callable[[Geometry], dict[str, Any] | None]) -> tuple[Pattern, dict]:
    """The first registered pattern a member exploits (its ``for_pattern`` gives parameters),
    with those parameters; unstructured and the member's defaults when it exploits none."""
    for spec in examples():
        p = pattern(spec)
        params = for_pattern(p.geometry)
        if params is not None:
            return p, params
    return pattern("unstructured"), {}


def weight(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))
