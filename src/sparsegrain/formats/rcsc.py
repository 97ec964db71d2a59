"""Relative-index CSC (Deep Compression, EIE), optionally interleaved over P processing elements.

PE k owns the rows i with i mod P == k, in increasing order ("local rows"). Per PE and column the
entries are (value, zeros_before): ``zeros_before`` counts the PE's zero rows skipped since the
previous entry of the column (the first entry starts at local row ``zeros_before``). A run of
d >= 2^b zeros inserts floor(d / 2^b) filler entries (value 0, zeros_before 2^b - 1) and then
the real entry with zeros_before = d mod 2^b (Han et al., "Deep Compression", ICLR 2016, Fig. 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..patterns.base import Geometry
from .base import Encoded, check_width, count_width, register


@dataclass
class Relative(Encoded):
    """Shared layout of ``rcsc`` and ``eie``: per PE k, ``ptr[k]`` (int64[cols + 1]: column j
    holds entries ``ptr[k][j] .. ptr[k][j+1]-1``) and ``zeros_before[k]`` (uint8 per entry).

    ``fillers`` counts the padding entries of all PEs; ``index_bits`` is b, the width of
    ``zeros_before``; ``pointer_bits`` the width of one column pointer.
    """

    n_pe: int
    index_bits: int
    pointer_bits: int
    fillers: int

    @classmethod
    def for_pattern(cls, geometry: Geometry) -> dict[str, Any] | None:
        return None if geometry.n_pe is None else {"n_pe": geometry.n_pe}
    ptr: list[np.ndarray]
    zeros_before: list[np.ndarray]

    @property
    def n_entries(self) -> int:
        return int(sum(len(z) for z in self.zeros_before))

    @property
    def nnz(self) -> int:
        return self.n_entries - self.fillers

    @property
    def padding_entries(self) -> int:
        return self.fillers

    def payload(self, k: int) -> np.ndarray:
        """Decoded values of PE k's entries (fillers decode to 0)."""
        raise NotImplementedError

    def positions(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Global (row, column) of every entry of PE k, fillers included."""
        return entry_positions(self.ptr[k], self.zeros_before[k], self.n_pe, k)

    def matrix(self) -> np.ndarray:
        out = np.zeros(self.matrix_shape, dtype=self.payload(0).dtype)
        for k in range(self.n_pe):
            rows, cols = self.positions(k)
            out[rows, cols] = self.payload(k)
        return out

    def _entry_bits(self) -> int:
        """Bits of one entry's value or code."""
        return self.value_bits

    def _bits(self) -> dict[str, int]:
        v = self._entry_bits()
        cols = self.matrix_shape[1]
        return {
            "values": self.nnz * v,
            "indices": self.nnz * self.index_bits,
            "pointers": self.n_pe * (cols + 1) * self.pointer_bits,
            "padding": self.fillers * (v + self.index_bits),
        }


def entry_positions(
    ptr: np.ndarray, zeros_before: np.ndarray, n_pe: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Global (row, column) of each entry of PE k from its column pointers and zeros_before."""
    counts = np.diff(ptr)
    col = np.repeat(np.arange(len(counts)), counts)
    run = np.concatenate([[0], np.cumsum(zeros_before.astype(np.int64) + 1)])
    # local row = steps taken since the column's first entry, minus one (segmented cumsum)
    local = run[1:] - np.repeat(run[ptr[:-1]], counts) - 1
    return local * n_pe + k, col


def relative_layout(
    keep: np.ndarray, n_pe: int, bits: int
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], int]:
    """Per PE: column pointers, zeros_before, and the flat source index of every entry
    (row * cols + col; -1 for a filler); and the filler count. Vectorised over all PEs."""
    rows, cols = keep.shape
    local_rows = -(-rows // n_pe)
    pad = np.zeros((local_rows * n_pe, cols), dtype=bool)
    pad[:rows] = keep
    # (local, pe, col) -> (pe, col, local): nonzero() then walks PE-major, column, local row
    pe, col, local = np.nonzero(np.ascontiguousarray(pad.reshape(local_rows, n_pe, cols).transpose(1, 2, 0)))
    line = pe.astype(np.int64) * cols + col
    prev = np.empty_like(local)
    prev[1:] = local[:-1]
    new_line = np.ones(len(line), dtype=bool)
    new_line[1:] = line[1:] != line[:-1]
    prev[new_line] = -1
    gap = local - prev - 1
    full = 1 << bits
    n_fill = gap >> bits
    per = n_fill + 1
    owner = np.repeat(np.arange(len(gap)), per)
    first = np.cumsum(per) - per
    slot = np.arange(len(owner)) - first[owner]
    real = slot == n_fill[owner]
    zeros_before = np.where(real, (gap & (full - 1))[owner], full - 1).astype(np.uint8)
    flat = (local * n_pe + pe) * cols + col
    source = np.where(real, flat[owner], -1)
    entry_line = line[owner]
    counts = np.bincount(entry_line, minlength=n_pe * cols).reshape(n_pe, cols)
    ptr = np.zeros((n_pe, cols + 1), dtype=np.int64)
    np.cumsum(counts, axis=1, out=ptr[:, 1:])
    bounds = np.concatenate([[0], np.cumsum(ptr[:, -1])])
    cut = [slice(bounds[k], bounds[k + 1]) for k in range(n_pe)]
    return (
        [ptr[k].copy() for k in range(n_pe)],
        [zeros_before[c].copy() for c in cut],
        [source[c].copy() for c in cut],
        int(len(owner) - len(gap)),
    )


def check_relative(n_pe: int, index_bits: int) -> None:
    if not isinstance(n_pe, (int, np.integer)) or n_pe < 1:
        raise ValueError(f"n_pe must be a positive integer, got {n_pe!r}")
    if not isinstance(index_bits, (int, np.integer)) or not 1 <= index_bits <= 8:
        raise ValueError(f"index_bits (zeros_before width) must be in 1..8, got {index_bits!r}")


def pointer_width(ptr: list[np.ndarray], pointer_bits: int | None, fmt: str) -> int:
    """The pointer width asked for (or the minimal one), checked against the largest pointer."""
    top = max(int(p[-1]) for p in ptr)
    need = count_width(top)
    bits = need if pointer_bits is None else pointer_bits
    check_width(
        "pointer_bits", bits, need, f"{fmt}: a PE holds {top:,} entries (raise n_pe or pointer_bits)"
    )
    return int(bits)


@register("rcsc")
@dataclass
class RelativeCSC(Relative):
    """Relative-index CSC with raw values: per PE k, ``values[k]`` (weight dtype, fillers 0)
    beside ``ptr[k]`` and ``zeros_before[k]`` (see :class:`Relative`)."""

    summary = "relative-index CSC: (value, b-bit zeros-before) per entry, fillers for long runs"
    positional = ("n_pe",)

    values: list[np.ndarray]

    @classmethod
    def _encode(
        cls, m: np.ndarray, keep: np.ndarray, base: dict[str, Any], n_pe: int = 1, index_bits: int
        = 4, pointer_bits: int | None = None
    ) -> RelativeCSC:
        """``index_bits`` b = 4; ``pointer_bits`` defaults to the minimal width for the
        largest PE's entry count."""
        check_relative(n_pe, index_bits)
        ptr, zb, src, fillers = relative_layout(keep, n_pe, index_bits)
        flat = m.reshape(-1)
        values = [np.where(s >= 0, flat[np.maximum(s, 0)], 0).astype(m.dtype) for s in src]
        return cls(
            **base,
            n_pe=int(n_pe),
            index_bits=int(index_bits),
            pointer_bits=pointer_width(ptr, pointer_bits, "rcsc"),
            fillers=fillers,
            ptr=ptr,
            zeros_before=zb,
            values=values,
        )

    def payload(self, k: int) -> np.ndarray:
        return self.values[k]
