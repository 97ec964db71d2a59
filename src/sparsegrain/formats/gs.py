"""Gather-scatter (GS) packs (Sun et al., arXiv 2112.10898; SPEC 2.1).

Rows go in groups of R = B / E. A group is stored as P packs; a pack holds E kept weights of each
of the group's R rows (B in all) whose columns fall in pairwise-distinct banks (column mod B), so
one vector load, one conflict-free gather and one FMA do B useful products.

Packing: split each row into E lanes of P weights; lanes x banks is then a P-regular bipartite
multigraph, which by Konig's theorem is a union of P perfect matchings, one per pack. Each
pack's matching is found by augmenting paths (compiled), starting from the previous pack's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import torch

from ..patterns import pattern
from ..patterns.base import Geometry
from .base import Encoded, check_width, register


def gs_violation(keep: np.ndarray, b: int, e: int) -> str | None:
    """Which row group breaks the GS rules (the ``gs:B:E`` pattern's own validator)."""
    return pattern(f"gs:{b}:{e}").violation(torch.from_numpy(keep))


@numba.njit(cache=True)
def _augment(l0, cnt, match_lane, match_bank, seen, from_lane, queue):  # pragma: no cover
    """Find an augmenting path from unmatched lane ``l0`` (BFS) and flip it; False if none."""
    b_n = cnt.shape[1]
    seen[:] = False
    head, tail = 0, 1
    queue[0] = l0
    while head < tail:
        lane = queue[head]
        head += 1
        for bank in range(b_n):
            if cnt[lane, bank] > 0 and not seen[bank]:
                seen[bank] = True
                from_lane[bank] = lane
                if match_bank[bank] < 0:
                    cur = bank
                    while True:
                        ll = from_lane[cur]
                        prev = match_lane[ll]
                        match_lane[ll] = cur
                        match_bank[cur] = ll
                        if ll == l0:
                            return True
                        cur = prev
                queue[tail] = match_bank[bank]
                tail += 1
    return False


@numba.njit(cache=True)
def _pack(indptr, indices, n_groups, r, e, b, pack_ptr, out):  # pragma: no cover
    """Fill ``out[pack, lane]`` with CSR entry numbers; -1 (group g) if a matching fails."""
    cnt = np.zeros((b, b), dtype=np.int64)
    start = np.zeros((b, b + 1), dtype=np.int64)
    take = np.zeros((b, b), dtype=np.int64)
    match_lane = np.empty(b, dtype=np.int64)
    match_bank = np.empty(b, dtype=np.int64)
    seen = np.zeros(b, dtype=np.bool_)
    from_lane = np.zeros(b, dtype=np.int64)
    queue = np.zeros(b + 1, dtype=np.int64)
    for g in range(n_groups):
        p_n = pack_ptr[g + 1] - pack_ptr[g]
        if p_n == 0:
            continue
        bucket = np.empty((b, p_n), dtype=np.int64)
        cnt[:, :] = 0
        for lane in range(b):
            row = g * r + lane // e
            first = indptr[row] + (lane % e) * p_n
            for t in range(p_n):
                cnt[lane, indices[first + t] % b] += 1
            start[lane, 0] = 0
            for bank in range(b):
                start[lane, bank + 1] = start[lane, bank] + cnt[lane, bank]
                take[lane, bank] = start[lane, bank]
            for t in range(p_n):
                bank = indices[first + t] % b
                bucket[lane, take[lane, bank]] = first + t
                take[lane, bank] += 1
            for bank in range(b):
                take[lane, bank] = start[lane, bank]
        match_lane[:] = -1
        match_bank[:] = -1
        for p in range(p_n):
            for lane in range(b):
                bank = match_lane[lane]
                if bank >= 0 and cnt[lane, bank] == 0:
                    match_lane[lane] = -1
                    match_bank[bank] = -1
            for lane in range(b):
                if match_lane[lane] < 0:
                    if not _augment(lane, cnt, match_lane, match_bank, seen, from_lane, queue):
                        return g
            for lane in range(b):
                bank = match_lane[lane]
                out[pack_ptr[g] + p, lane] = bucket[lane, take[lane, bank]]
                take[lane, bank] += 1
                cnt[lane, bank] -= 1
    return -1


@register("gs")
@dataclass
class GSFormat(Encoded):
    """GS packs, for kernels that take one vector load per pack:

    - ``values``: [n_packs, B] and ``col_idx``: uint16 [n_packs, B]; lane l of a pack of group g
      holds a weight of the group's row l // E (its columns are in distinct banks col mod B);
    - ``pack_ptr``: int64[n_groups + 1], group g's packs are ``pack_ptr[g]:pack_ptr[g+1]``;
    - ``row_ids``: uint16[rows] (scatter only, else empty): group row k is output row
      ``row_ids[k]``; without scatter, group row k is output row k.
    """

    summary = "gather-scatter packs: B values + B 16-bit columns in distinct banks per pack"
    positional = ("b", "e")

    b: int
    e: int
    scatter: bool
    values: np.ndarray
    col_idx: np.ndarray
    pack_ptr: np.ndarray
    row_ids: np.ndarray
    index_bits: int
    pointer_bits: int
    row_bits: int

    @classmethod
    def for_pattern(cls, geometry: Geometry) -> dict[str, Any] | None:
        """GS over single weights (not ``block=RxC``): its B and E, and row ids with scatter."""
        if geometry.gs is None or geometry.gs_block != (1, 1):
            return None
        b, e = geometry.gs
        return {"b": b, "e": e, **({"scatter": True} if geometry.gs_scatter else {})}

    @classmethod
    def _encode(
        cls, m: np.ndarray, keep: np.ndarray, base: dict[str, Any], b: int = 8, e: int = 1,
        scatter: bool = False, row_order: object = None, index_bits: int = 16, pointer_bits: int =
        32, row_bits: int = 16
    ) -> GSFormat:
        """B = 8 banks, E = 1 (vertical); ``scatter`` permutes rows (``row_order``, default:
        by kept count, densest first) and stores 16-bit row ids; 16-bit columns, 32-bit group
        pointers. The mask must obey ``gs:B:E`` (after the permutation)."""
        if not isinstance(b, (int, np.integer)) or not isinstance(e, (int, np.integer)) \
                or b < 1 or e < 1 or b % e:
            raise ValueError(f"gs needs integers B >= 1 and E >= 1 with E dividing B, got {b}, {e}")
        rows, cols = m.shape
        check_width("index_bits", index_bits, 1, "a column")
        if cols > (1 << index_bits) - 1:
            raise ValueError(
                f"format gs stores {index_bits}-bit column indices and takes at most "
                f"{(1 << index_bits) - 1:,} columns; this weight has {cols:,}"
            )
        order = np.arange(rows)
        if scatter:
            check_width("row_bits", row_bits, max(rows - 1, 1).bit_length(), f"{rows} row ids")
            order = _row_order(keep, row_order)
        elif row_order is not None:
            raise ValueError("row_order needs scatter=True (rows are only permuted with row ids)")
        kept = keep[order] if scatter else keep
        r = b // e
        rr, cc = np.nonzero(kept)
        per_row = np.bincount(rr, minlength=rows)
        # packing decides validity exactly: equal counts per row of a group, then Konig's
        # matchings exist iff every bank holds the same count; the validator says where not
        if rows % r or cols < b or (per_row % e).any() \
                or (per_row.reshape(-1, r) != per_row[::r, None]).any():
            failed = 0
        else:
            n_groups = rows // r
            pack_ptr = np.concatenate([[0], np.cumsum(per_row[::r] // e)]).astype(np.int64)
            indptr = np.concatenate([[0], np.cumsum(per_row)]).astype(np.int64)
            out = np.full((int(pack_ptr[-1]), b), -1, dtype=np.int64)
            failed = _pack(indptr, cc.astype(np.int64), n_groups, r, e, b, pack_ptr, out)
        if failed >= 0:
            why = gs_violation(kept, b, e) or f"gs:{b}:{e}: row group {failed} has no pack layout"
            raise ValueError(f"format gs cannot hold this mask: {why}")
        src_rows = order[rr]
        flat_src = src_rows[out] * cols + cc[out]
        return cls(
            **base,
            b=int(b),
            e=int(e),
            scatter=bool(scatter),
            values=np.ascontiguousarray(m.reshape(-1)[flat_src]),
            col_idx=cc[out].astype(np.uint16),
            pack_ptr=pack_ptr,
            row_ids=order.astype(np.uint16) if scatter else np.zeros(0, dtype=np.uint16),
            index_bits=int(index_bits),
            pointer_bits=int(pointer_bits),
            row_bits=int(row_bits),
        )

    @property
    def n_groups(self) -> int:
        return len(self.pack_ptr) - 1

    def lane_rows(self) -> np.ndarray:
        """int64[n_packs, B]: the output row of every lane of every pack."""
        r = self.b // self.e
        group = np.repeat(np.arange(self.n_groups), np.diff(self.pack_ptr))
        rows = group[:, None] * r + np.arange(self.b)[None, :] // self.e
        return self.row_ids.astype(np.int64)[rows] if self.scatter else rows

    @property
    def nnz(self) -> int:
        return self.values.size

    def matrix(self) -> np.ndarray:
        out = np.zeros(self.matrix_shape, dtype=self.values.dtype)
        out[self.lane_rows(), self.col_idx.astype(np.int64)] = self.values
        return out

    def _bits(self) -> dict[str, int]:
        bits = {
            "values": self.nnz * self.value_bits,
            "indices": self.nnz * self.index_bits,
            "pointers": self.n_groups * self.pointer_bits,
        }
        if self.scatter:
            bits["metadata"] = len(self.row_ids) * self.row_bits
        return bits


def _row_order(keep: np.ndarray, row_order: object) -> np.ndarray:
    """The given row permutation (checked), else rows by kept count, densest first (stable)."""
    rows = keep.shape[0]
    if row_order is None:
        return np.argsort(-keep.sum(1), kind="stable")
    order = np.asarray(row_order, dtype=np.int64).reshape(-1)
    if len(order) != rows or not np.array_equal(np.sort(order), np.arange(rows)):
        raise ValueError(f"row_order must be a permutation of the {rows} rows")
    return order
