"""Weights every format accepts, for the round-trip and serialisation tests."""

from __future__ import annotations

import numpy as np
import torch

import sparsegrain as sg
from sparsegrain.patterns import from_matrix


def gs_mask(rows: int, cols: int, b: int, e: int, packs: int, seed: int) -> torch.Tensor:
    """A random mask obeying gs:B:E: per group and pack, each lane takes a fresh column of its own
    bank, banks drawn as a random permutation (packs limited by the columns per bank)."""
    rng = np.random.default_rng(seed)
    r = b // e
    keep = np.zeros((rows, cols), dtype=bool)
    per_bank = [np.arange(k, cols, b) for k in range(b)]
    packs = min(packs, min(len(c) for c in per_bank) // e if cols >= b else 0)
    for g in range(rows // r):
        for _ in range(packs):
            banks = rng.permutation(b)
            for lane in range(b):
                row = g * r + lane // e
                free = [c for c in per_bank[banks[lane]] if not keep[row, c]]
                keep[row, rng.choice(free)] = True
    return torch.from_numpy(keep)


def csp_mask(rows: int, cols: int, c: int, density: float, seed: int) -> torch.Tensor:
    """Every input (column) keeps a random prefix of whole chunks of C outputs (rows)."""
    rng = np.random.default_rng(seed)
    n = -(-rows // c)
    lengths = rng.binomial(n, density, size=cols)
    return torch.from_numpy(np.arange(rows)[:, None] < lengths[None, :] * c)


def _nm(shape, density, seed):
    w = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    # at most 2 of 4 (a group may keep fewer)
    return sg.pattern("nm:2:4").mask(w, 0.5) & (torch.rand(shape) < 0.5 + density)


# format -> (params, mask maker (shape, density, seed) -> bool mask, shape fixer)
CASES: dict[str, tuple[dict, object, object]] = {
    "dense": ({}, None, None),
    "bitmap": ({"chunk": 16}, None, None),
    "coo": ({}, None, None),
    "csr": ({}, None, None),
    "csc": ({}, None, None),
    "rcsc": ({"n_pe": 3}, None, None),
    "eie": ({"n_pe": 4, "pointer_bits": 32}, None, None),
    "codebook": ({"code_bits": 3}, None, None),
    "rle": ({"run_bits": 2}, None, None),
    "bcsr": ({"block_rows": 2, "block_cols": 3}, None, None),
    "nm": ({}, _nm, lambda s: (s[0], -(-s[1] // 4) * 4)),
    "gs": ({"b": 4, "e": 2},
           lambda s, d, seed: gs_mask(s[0], s[1], 4, 2, int(d * s[1] / 2), seed),
           lambda s: (-(-s[0] // 2) * 2, max(s[1], 4))),
    "csp": ({"c": 3}, lambda s, d, seed: csp_mask(s[0], s[1], 3, d, seed), None),
}


def sample(fmt: str, shape: tuple[int, ...], density: float, seed: int) -> tuple[torch.Tensor, dict]:
    """A random weight at roughly ``density`` whose mask the format accepts, and its params."""
    params, maker, fix = CASES[fmt]
    if fix is not None and len(shape) == 2:
        shape = fix(shape)
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(shape, generator=g)
    if maker is None:
        return w * (torch.rand(shape, generator=g) < density), params
    view = (shape[0], int(np.prod(shape[1:])))
    return w * from_matrix(maker(view, density, seed), shape), params
