"""Weights every format accepts, for the round-trip and serialisation tests."""

from __future__ import annotations

import torch

# format -> (params, pattern spec whose masks it takes, or None for any mask)
CASES: dict[str, tuple[dict, str | None]] = {
    "csr": ({}, None),
    "csc": ({}, None),
    "rcsc": ({"n_pe": 3}, None),
    "eie": ({"n_pe": 4, "pointer_bits": 32}, None),
    "codebook": ({"code_bits": 3}, None),
}


def sample(fmt: str, shape: tuple[int, ...], density: float, seed: int) -> tuple[torch.Tensor, dict]:
    """A random weight at roughly ``density`` whose mask the format accepts, and its params."""
    params, spec = CASES[fmt]
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(shape, generator=g)
    if spec is None:
        w = w * (torch.rand(shape, generator=g) < density)
    else:
        from sparsegrain import pattern

        w = w * pattern(spec).mask(w, 1.0 - density if density < 1 else 0.0)
    return w, params
