"""Small layers and masks shared by the accelerator-model tests."""

from __future__ import annotations

import numpy as np
import torch

from sparsegrain.patterns.base import from_matrix


def sparse_conv(c_out: int = 12, c_in: int = 6, k: int = 3, density: float = 0.3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(c_out, c_in, k, k, generator=g)
    return w * (torch.rand(w.shape, generator=g) < density)


def relu_input(shape: tuple[int, ...], seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.relu(torch.randn(shape, generator=g))


def csp_mask(shape: tuple[int, ...], chunk: int, seed: int = 0) -> torch.Tensor:
    """A random cascading mask: every input row keeps a random prefix of whole chunks."""
    c_out = shape[0]
    rows = int(np.prod(shape[1:]))
    n = -(-c_out // chunk)
    prefix = np.random.default_rng(seed).integers(0, n + 1, rows)
    keep = np.arange(c_out)[:, None] < np.minimum(prefix * chunk, c_out)[None, :]
    return from_matrix(torch.from_numpy(keep), shape)


def gs_mask(rows: int, cols: int, lanes: int, packs: int, seed: int = 0) -> torch.Tensor:
    """A vertical GS mask (E = 1): in each pack, row r of a group takes a column in bank (r + t) mod B."""
    rng = np.random.default_rng(seed)
    m = np.zeros((rows, cols), bool)
    for g0 in range(0, rows, lanes):
        for t in range(packs):
            for r in range(lanes):
                bank = (r + t) % lanes
                free = [c for c in range(bank, cols, lanes) if not m[g0 + r, c]]
                m[g0 + r, rng.choice(free)] = True
    return torch.from_numpy(m)
