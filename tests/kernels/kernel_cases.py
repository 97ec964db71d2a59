"""Random encoded weights for the kernel tests, built straight from random arrays of each layout,
with plain-loop decoders to the dense matrix (independent of the kernels and of the encoders)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from hypothesis import strategies as st

from sparsegrain.kernels.bcsr import BCSRKernel
from sparsegrain.kernels.csp import CSPKernel
from sparsegrain.kernels.csr import CSRKernel
from sparsegrain.kernels.gs import GSKernel
from sparsegrain.kernels.nm import NMKernel


def row_densities(rng: np.random.Generator, rows: int) -> np.ndarray:
    """Per-row keep probabilities mixing empty rows, fully dense rows and random ones."""
    return rng.choice([0.0, 1.0, rng.random()], size=rows, p=[0.2, 0.2, 0.6])


def csr_case(rng: np.random.Generator, rows: int, cols: int, value_bits: int = 32):
    keep = rng.random((rows, cols)) < row_densities(rng, rows)[:, None]
    w = np.where(keep, rng.standard_normal((rows, cols)), 0).astype(np.float32)
    indptr = np.concatenate([[0], np.cumsum(keep.sum(1))])
    r, c = np.nonzero(keep)
    return CSRKernel((rows, cols), indptr, c, w[r, c], value_bits), w


def bcsr_case(rng: np.random.Generator, rows: int, cols: int, value_bits: int = 32):
    rb, cb = int(rng.choice([1, 2, 4, 8])), int(rng.choice([1, 2, 4, 8]))
    brows, bcols = -(-rows // rb), -(-cols // cb)
    keep = rng.random((brows, bcols)) < row_densities(rng, brows)[:, None]
    keep[:, (np.arange(bcols) + 1) * cb > cols] = False  # whole blocks only
    data = rng.standard_normal((int(keep.sum()), rb, cb)).astype(np.float32)
    w = np.zeros((brows * rb, bcols * cb), np.float32)
    k = 0
    for b in range(brows):
        for c in range(bcols):
            if keep[b, c]:
                w[b * rb : (b + 1) * rb, c * cb : (c + 1) * cb] = data[k]
                k += 1
    bi, bc = np.nonzero(keep)
    indptr = np.concatenate([[0], np.cumsum(keep.sum(1))])
    if brows * rb > rows:  # the last block row is cut: its extra rows must hold zeros
        data[bi == brows - 1, rows - (brows - 1) * rb :, :] = 0
        w[rows:] = 0
    return BCSRKernel((rows, cols), indptr, bc, data, value_bits), w[:rows, :cols]


def nm_case(rng: np.random.Generator, rows: int, cols: int, value_bits: int = 32):
    n, m = [(1, 2), (2, 4), (1, 4), (4, 8), (2, 8), (3, 8)][rng.integers(6)]  # 3: no shift
    cols = -(-cols // m) * m
    groups = cols // m
    positions = np.stack(
        [np.stack([rng.permutation(m)[:n] for _ in range(groups)]) for _ in range(rows)]
    ).reshape(rows, groups, n)
    values = rng.standard_normal((rows, groups, n)).astype(np.float32)
    values[rng.random(rows) < 0.2] = 0  # empty rows (padding slots hold 0)
    w = np.zeros((rows, cols), np.float32)
    for r in range(rows):
        for g in range(groups):
            for k in range(n):
                w[r, g * m + positions[r, g, k]] += values[r, g, k]
    return NMKernel((rows, cols), values, positions, m, value_bits), w


#: pack widths the GS cases draw from (12: a gathered run of 48 lanes; 96: too wide for one)
GS_WIDTHS = (4, 8, 12, 16, 32, 96)


def gs_case(rng: np.random.Generator, rows: int, cols: int, value_bits: int = 32,
            scatter: bool | None = None, widths: tuple[int, ...] = GS_WIDTHS):
    b = int(rng.choice(widths))
    e = int(rng.choice([d for d in (1, 2, 4, 8, 16) if b % d == 0]))
    r_per = b // e
    cols = max(cols, b)
    groups = -(-rows // r_per)
    packs = rng.integers(0, 4, size=groups)
    packs[rng.random(groups) < 0.2] = 0
    group_ptr = np.concatenate([[0], np.cumsum(packs)])
    banks = cols // b  # columns per bank that exist in every bank
    values = rng.standard_normal((group_ptr[-1], b)).astype(np.float32)
    values[rng.random(values.shape) < 0.1] = 0  # padding slots
    columns = np.empty((group_ptr[-1], b), np.int64)
    for p in range(group_ptr[-1]):  # B distinct banks per pack
        columns[p] = rng.permutation(b) + b * rng.integers(0, banks, size=b)
    slots = groups * r_per
    scatter = bool(rng.integers(2)) if scatter is None else scatter
    row_ids = rng.permutation(slots) if scatter else np.arange(slots)
    row_ids = np.where(row_ids < rows, row_ids, -1)
    w = np.zeros((rows, cols), np.float32)
    for g in range(groups):
        for p in range(group_ptr[g], group_ptr[g + 1]):
            for k in range(b):
                r = row_ids[g * r_per + k // e]
                if r >= 0:
                    w[r, columns[p, k]] += values[p, k]
                else:
                    values[p, k] = 0.0
    return GSKernel((rows, cols), group_ptr, values, columns, e, row_ids, value_bits), w


def csp_case(rng: np.random.Generator, rows: int, cols: int, value_bits: int = 32):
    chunk = int(rng.choice([1, 2, 3, 4, 8, 16]))
    chunks = -(-rows // chunk)
    lengths = rng.integers(0, chunks + 1, size=cols)
    lengths[rng.random(cols) < 0.2] = 0
    lengths[rng.random(cols) < 0.2] = chunks
    w = np.zeros((chunks * chunk, cols), np.float32)
    cells = []
    for j in range(chunks):  # chunk order, inputs ascending
        for i in range(cols):
            if lengths[i] > j:
                cell = rng.standard_normal(chunk).astype(np.float32)
                cell[max(rows - j * chunk, 0) :] = 0  # the cut last chunk is zero-padded
                w[j * chunk : (j + 1) * chunk, i] = cell
                cells.append(cell)
    values = np.array(cells, np.float32).reshape(-1, chunk)
    return CSPKernel((rows, cols), values, lengths, value_bits), w[:rows]


class SharedValues:
    """``rng`` whose normal draws take one of 16 values (a 4-bit codebook's, 0 among them), for
    cases whose values are stored as 4-bit codes."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.book = np.concatenate([[0.0], rng.standard_normal(15)])

    def standard_normal(self, size: Any = None) -> np.ndarray:
        return self.book[self.rng.integers(0, len(self.book), size)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rng, name)


CASES = {"csr": csr_case, "bcsr": bcsr_case, "nm": nm_case, "gs": gs_case, "csp": csp_case}
#: cases whose compiled variants do not matter to a test (how the output is written, the panel
#: plan): GS packs of one width, so that a fresh run compiles few (B, E) variants
ONE_PACK_WIDTH = {"gs": functools.partial(gs_case, widths=(8,))}


@st.composite
def shapes(draw: st.DrawFn) -> tuple[np.random.Generator, int, int]:
    """A seeded generator and odd or even matrix sizes."""
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed), draw(st.integers(1, 70)), draw(st.integers(1, 70))
