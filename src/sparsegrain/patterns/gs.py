"""Gather-scatter (GS) sparsity (Sun et al., "Sparse Neural Networks for Vector Processors with
Gather-Scatter", arXiv 2112.10898; SPEC 2.1).

A vector unit with B lanes gathers B activations per step from a scratchpad of B banks (column j
lives in bank j mod B) when they fall in distinct banks. Rows of the 2-D view go in groups of
R = B / E consecutive rows; a group is stored as packs of B nonzeros, E from each row, in B
distinct banks. So within a group every row keeps the same count and every bank the same count.
E = 1 is the vertical variant, E = B the horizontal one, 1 < E < B the hybrid.

Mask algorithm (the authors'): a layer-wide threshold t; per group n = scores >= t, rounded to a
multiple of B (to nearest above 8 packs' worth, else up) and capped at the group; packs filled
greedily one at a time (each row short of E entries proposes its best unused entry in a bank
still free in this pack, the best proposal overall is taken). Choices made here:

- ``calibrate=true`` (default): t is found by bisection so that the packs stored hold the count
  closest to the target (the literal rule, ``calibrate=false``, takes t at the target sparsity
  and then keeps up to one pack per group more or less than asked).
- Where the greedy leaves a row without an unused entry in the free banks, the row is given a
  bank along an alternating path (bipartite matching: a row takes a bank whose owner moves to
  another bank it still has entries in), so a pack fails only when no assignment of rows to
  banks completes it; then it is dropped and its group ends there. With calibration the group
  is capped there and t is recalibrated. (The greedy alone failed on layers with as many
  columns as banks, where every pack must be a perfect matching.)
- ``scatter=true``: rows are sorted by density (count >= the plain threshold), within tiles of
  ``tile`` rows (0 = the whole layer), before grouping. A mask carries no permutation, so a
  scatter mask is valid when :meth:`GS.row_order` (rows by tile, then kept count descending, then
  index) puts it in GS groups; the generator regroups and repacks until that holds.
- ``block=RxC``: scores summed (the pattern's norm) over R x C blocks of the 2-D view, GS on the
  block-score matrix (banks are block columns mod B), mask expanded back; the 2-D view must
  divide into whole blocks. With B = 1 this is block pruning.

Shape rules (ValueError otherwise): B % E == 0; rows (block rows) a multiple of R; at least B
columns (block columns); ``tile`` a multiple of R. Columns need not be a multiple of B: the
last banks are then one column shorter (no padding).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import torch

from .base import (
    Geometry,
    Pattern,
    from_matrix,
    group_norm,
    keep_count,
    matrix_shape,
    shape_error,
    to_matrix,
)
from .registry import register

#: key of an empty slot: above every real key (real keys have a high word <= 0x7F7FFFFF)
EMPTY = np.uint64(0xFFFFFFFFFFFFFFFF)
#: the bit pattern of the largest finite float32; 0x7F7FFFFF - bits(v) ranks v >= 0 descending
TOP = 0x7F7FFFFF
#: above this many packs' worth a group's count is rounded to nearest, else up (Sun et al.)
ROUND_UP_PACKS = 8


@numba.njit(cache=True)
def bank_keys(bits: np.ndarray, b: int) -> np.ndarray:
    """(rows, B, ceil(cols / B)) sort keys of float32 scores given as uint32 ``bits``.

    ``bits`` is (rows, C_in, K), read as the channel-last 2-D view (column k * C_in + c_in)
    without copying it. The high word ranks the magnitude (smaller = larger), the low word is
    the column, so an ascending sort of each (row, bank) list puts the best entry first.
    """
    rows, c_in, k = bits.shape
    cols = c_in * k
    keys = np.full((rows, b, (cols + b - 1) // b), EMPTY, dtype=np.uint64)
    for r in range(rows):
        for i in range(c_in):
            for j in range(k):
                c = j * c_in + i
                rank = TOP - (bits[r, i, j] & 0x7FFFFFFF)  # sign bit cleared: |score|
                keys[r, c % b, c // b] = (np.uint64(rank) << np.uint64(32)) | np.uint64(c)
    return keys


@numba.njit(cache=True)
def group_counts(keys: np.ndarray, order: np.ndarray, r: int, level: int) -> np.ndarray:
    """Per group of ``r`` rows (in ``order``): entries whose rank word is below ``level``."""
    bound = np.uint64(level) << np.uint64(32)
    counts = np.zeros(len(order) // r, dtype=np.int64)
    for i in range(len(order)):
        for bank in range(keys.shape[1]):
            counts[i // r] += np.searchsorted(keys[order[i], bank], bound)
    return counts


@numba.njit(cache=True)
def round_packs(counts: np.ndarray, b: int, caps: np.ndarray) -> np.ndarray:
    """Packs per group: count / B to nearest above 8 packs' worth, else up; at most ``caps``."""
    packs = np.empty_like(counts)
    for g in range(len(counts)):
        n = counts[g]
        p = (n + b // 2) // b if n > ROUND_UP_PACKS * b else (n + b - 1) // b
        packs[g] = min(p, caps[g])
    return packs


@numba.njit(cache=True)
def first_level(
    keys: np.ndarray, order: np.ndarray, r: int, caps: np.ndarray, target: int, rounded: bool
) -> int:
    """Bisection: the smallest level at which the groups hold >= ``target`` entries (stored in
    whole packs when ``rounded``, else as counted)."""
    b = keys.shape[1]
    lo, hi = 0, TOP + 1  # level 0 keeps nothing, TOP + 1 every entry
    while lo < hi:
        mid = (lo + hi) // 2
        counts = group_counts(keys, order, r, mid)
        held = b * round_packs(counts, b, caps).sum() if rounded else counts.sum()
        if held >= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


@numba.njit(cache=True)
def _augment(i: int, owner: np.ndarray, avail: np.ndarray) -> bool:
    """Give row ``i`` of the group one more bank of this pack by an alternating path: it
    takes a bank whose owner moves to another bank it still has entries in, and so on until a
    free bank is reached (the bipartite-matching step; a perfect assignment exists whenever
    every row can still fill its share, which the greedy alone may miss). ``avail[row, bank]``:
    the row has an unused entry in that bank."""
    b, r = len(owner), avail.shape[0]
    via = np.full(b, -1, dtype=np.int64)  # the row that reached each bank
    reached_by = np.full(r, -1, dtype=np.int64)  # the bank through which each row was reached
    seen_row = np.zeros(r, dtype=np.bool_)
    queue = np.empty(r, dtype=np.int64)
    queue[0], n, at, found = i, 1, 0, -1
    seen_row[i] = True
    while at < n and found < 0:
        u = queue[at]
        at += 1
        for bank in range(b):
            if via[bank] >= 0 or owner[bank] == u or not avail[u, bank]:
                continue
            via[bank] = u
            if owner[bank] < 0:
                found = bank
                break
            v = owner[bank]
            if not seen_row[v]:
                seen_row[v] = True
                reached_by[v] = bank
                queue[n] = v
                n += 1
    if found < 0:
        return False
    bank = found
    while True:  # shift ownership back along the path
        u = via[bank]
        given_up = reached_by[u]
        owner[bank] = u
        if u == i:
            return True
        bank = given_up


@numba.njit(cache=True)
def pack(keys: np.ndarray, order: np.ndarray, e: int, packs: np.ndarray, c_in: int, k: int):
    """Bank-aware packing of every group; returns the mask, laid out (rows, C_in, K) as the
    scores given to :func:`bank_keys`, and the packs completed per group. Each pack is filled
    greedily (the best proposal overall first); a row the greedy leaves without a free bank
    gets one by :func:`_augment`, and the pack fails only when no assignment exists."""
    rows, b, length = keys.shape
    r = b // e
    mask = np.zeros((rows, c_in, k), dtype=np.bool_)
    done = np.zeros(len(packs), dtype=np.int64)
    head = np.zeros((r, b), dtype=np.int64)  # next unused entry of each (row, bank) list
    need = np.empty(r, dtype=np.int64)
    owner = np.empty(b, dtype=np.int64)  # the row (in its group) each bank of the pack serves
    avail = np.empty((r, b), dtype=np.bool_)
    for g in range(len(packs)):
        head[:] = 0
        for _ in range(packs[g]):
            need[:] = e
            owner[:] = -1
            complete = True
            for _step in range(b):
                best, best_i, best_bank = EMPTY, -1, -1
                stuck = -1
                for i in range(r):
                    if need[i] == 0:
                        continue
                    row = order[g * r + i]
                    own, own_bank = EMPTY, -1
                    for bank in range(b):
                        if owner[bank] < 0 and head[i, bank] < length and keys[row, bank, head[i, bank]] < own:
                            own, own_bank = keys[row, bank, head[i, bank]], bank
                    if own_bank < 0:  # no free bank left for this row: repair, or fail
                        stuck = i
                        break
                    if own < best:
                        best, best_i, best_bank = own, i, own_bank
                if stuck >= 0:
                    for i in range(r):
                        row = order[g * r + i]
                        for bank in range(b):
                            avail[i, bank] = head[i, bank] < length and keys[row, bank, head[i, bank]] != EMPTY
                    if not _augment(stuck, owner, avail):
                        complete = False
                        break
                    need[stuck] -= 1
                    continue
                owner[best_bank] = best_i
                need[best_i] -= 1
            if not complete:
                break
            for bank in range(b):
                i = owner[bank]
                row = order[g * r + i]
                col = keys[row, bank, head[i, bank]] & np.uint64(0xFFFFFFFF)
                head[i, bank] += 1
                mask[row, col % c_in, col // c_in] = True
            done[g] += 1
    return mask, done


@register("gs")
class GS(Pattern):
    """Groups of B / E rows stored as packs of B nonzeros in distinct banks (E per row)."""

    summary = "gather-scatter: packs of B nonzeros in distinct banks, E per row of a B/E-row group"
    forms = ("gs:B:E", "gs:B:E:scatter=true:tile=T", "gs:B:E:block=RxC", "gs:B:E:calibrate=false")
    example = "gs:8:1"

    def __init__(
        self, b: int, e: int, scatter: bool = False, tile: int = 0, block: str = "1x1",
        calibrate: bool = True, norm: str = "l1",
    ) -> None:
        super().__init__(norm)
        if b < 1 or e < 1 or b % e:
            raise ValueError(f"gs:{b}:{e}: needs B >= 1 and E >= 1 dividing B")
        if not isinstance(scatter, bool) or not isinstance(calibrate, bool):
            raise TypeError("gs options scatter and calibrate take true or false")
        if not isinstance(tile, int) or tile < 0 or tile % (b // e):
            raise ValueError(f"gs tile must be 0 (whole layer) or a multiple of R = {b // e} rows")
        if tile and not scatter:
            raise ValueError("gs tile sorts rows within tiles, so it needs scatter=true")
        try:
            br, bc = (int(x) for x in str(block).lower().split("x"))
        except ValueError:
            raise ValueError(f"gs block must be RxC, e.g. block=4x1, got {block!r}") from None
        if br < 1 or bc < 1:
            raise ValueError(f"gs block={block}: block sides must be >= 1")
        self.b, self.e, self.r = b, e, b // e
        self.scatter, self.tile, self.block, self.calibrate = scatter, tile, (br, bc), calibrate

    @classmethod
    def from_parts(cls, args: list[str], opts: dict[str, Any]) -> GS:
        if len(args) != 2:
            raise ValueError("gs takes two integers B (banks = lanes) and E (per row), e.g. gs:8:1")
        return cls(int(args[0]), int(args[1]), **opts)

    def _params(self) -> list[str]:
        return [str(self.b), str(self.e)]

    @property
    def geometry(self) -> Geometry:
        return Geometry(self.kind, gs=(self.b, self.e), gs_scatter=self.scatter, gs_block=self.block)

    def _options(self) -> dict[str, object]:
        block = f"{self.block[0]}x{self.block[1]}"
        return {
            **({"scatter": "true"} if self.scatter else {}),
            **({"tile": self.tile} if self.tile else {}),
            **({"block": block} if block != "1x1" else {}),
            **({"calibrate": "false"} if not self.calibrate else {}),
        }

    def check_shape(self, shape: torch.Size | tuple[int, ...]) -> None:
        rows, cols = matrix_shape(shape)
        br, bc = self.block
        if rows % br or cols % bc:
            raise shape_error(
                self, shape, f"its {rows} x {cols} view does not divide into {br} x {bc} blocks"
            )
        unit = "" if self.block == (1, 1) else " block"
        if (rows // br) % self.r:
            raise shape_error(
                self, shape, f"its {rows // br}{unit} rows are not a multiple of R = B / E = {self.r}"
            )
        if cols // bc < self.b:
            raise shape_error(
                self, shape, f"its {cols // bc}{unit} columns are fewer than B = {self.b} banks"
            )

    def _blocks(self, t: torch.Tensor) -> torch.Tensor:
        """The matrix GS works on: the 2-D view, or its block norms with ``block``."""
        m = to_matrix(t)
        br, bc = self.block
        if self.block == (1, 1):
            return m
        blocks = m.reshape(m.shape[0] // br, br, m.shape[1] // bc, bc).permute(0, 2, 1, 3)
        return group_norm(blocks.float(), self.norm, dim=(2, 3))

    def row_order(self, mask: torch.Tensor) -> np.ndarray:
        """Rows (of the block matrix) in their GS group order: by tile, then kept count
        descending, then index. The identity without ``scatter``."""
        kept = self._blocks(mask.float()).gt(0)
        if not self.scatter:
            return np.arange(kept.shape[0])
        return self._sorted_rows(kept.sum(1).numpy())

    def _sorted_rows(self, counts: np.ndarray) -> np.ndarray:
        rows = len(counts)
        tile = np.arange(rows) // (self.tile or rows)
        return np.lexsort((np.arange(rows), -counts, tile))

    def _mask(self, score: torch.Tensor, sparsity: float) -> torch.Tensor:
        if self.block != (1, 1):
            view = self._blocks(score)[:, :, None]
        else:  # (rows, C_in, K): the 2-D view's entries, read in place by bank_keys
            view = score.reshape(score.shape[0], score.shape[1], -1)
        m = view.float().contiguous().numpy()
        keys = bank_keys(m.view(np.uint32), self.b)
        keys.sort(axis=2)
        target = keep_count(m.size, sparsity)
        order = np.arange(m.shape[0])
        level = 0  # the plain threshold, needed to rank rows or without calibration
        if self.scatter or not self.calibrate:
            unused_caps = np.zeros(1, dtype=np.int64)  # the plain count is not rounded to packs
            level = first_level(keys, order, len(order), unused_caps, target, False)
        if self.scatter:
            order = self._sorted_rows(group_counts(keys, order, 1, level))
        keep = self._fill(keys, order, m.shape[1:], target, level)
        while self.scatter:  # regroup by the canonical order until it is the packing's order
            counts = keep.reshape(len(keep), -1).sum(1)
            canon = self._sorted_rows(counts)
            if np.array_equal(np.sort(canon.reshape(-1, self.r), 1),
                              np.sort(order.reshape(-1, self.r), 1)):
                break
            order = canon
            keep, _ = pack(keys, order, self.e, counts[order[:: self.r]] // self.e, *m.shape[1:])
        if self.block == (1, 1):
            return torch.from_numpy(keep).reshape(score.shape)
        return self._expand(torch.from_numpy(keep[:, :, 0]), score.shape)

    def _fill(
        self, keys: np.ndarray, order: np.ndarray, layout: tuple[int, int], target: int, level: int
    ) -> np.ndarray:
        """Pack every group; with calibration, groups whose packing fails are capped there and
        the threshold is recalibrated until every planned pack is stored."""
        cols = layout[0] * layout[1]
        caps = np.full(len(order) // self.r, self.r * (cols // self.b), dtype=np.int64)
        while True:
            packs = self._packs(keys, order, caps, target, level)
            keep, done = pack(keys, order, self.e, packs, *layout)
            if not self.calibrate or np.array_equal(done, packs):
                return keep
            caps = np.minimum(caps, done)

    def _packs(
        self, keys: np.ndarray, order: np.ndarray, caps: np.ndarray, target: int, level: int
    ) -> np.ndarray:
        """Packs per group at the plain threshold ``level``, or at the calibrated one: the level
        whose stored count is closest to ``target``."""
        if not self.calibrate:
            return round_packs(group_counts(keys, order, self.r, level), self.b, caps)
        lo = first_level(keys, order, self.r, caps, target, True)
        packs = round_packs(group_counts(keys, order, self.r, lo), self.b, caps)
        if lo > 0:
            fewer = round_packs(group_counts(keys, order, self.r, lo - 1), self.b, caps)
            if target - self.b * fewer.sum() <= self.b * packs.sum() - target:
                return fewer
        return packs

    def _expand(self, keep: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        """A block-level mask (block rows, block columns) as a mask of the weight's shape."""
        br, bc = self.block
        m = keep.repeat_interleave(br, 0).repeat_interleave(bc, 1)
        return from_matrix(m.contiguous(), shape)

    def _violation(self, mask: torch.Tensor) -> str | None:
        kept = self._blocks(mask.float()) > 0
        if self.block != (1, 1) and not torch.equal(self._expand(kept, mask.shape), mask):
            return f"{self.spec}: a {self.block[0]}x{self.block[1]} block is partly kept"
        order = self.row_order(mask)
        g = kept[torch.from_numpy(order)].reshape(-1, self.r, kept.shape[1])
        rows = g.sum(2)
        bad = torch.nonzero((rows != rows[:, :1]).any(1))
        where = "in canonical row order " if self.scatter else ""
        if len(bad):
            k = int(bad[0])
            return (
                f"{self.spec}: group {k} {where}(rows {order[k * self.r:(k + 1) * self.r].tolist()}) "
                f"keeps unequal counts per row {rows[k].tolist()}"
            )
        pad = -kept.shape[1] % self.b
        banks = torch.nn.functional.pad(g, (0, pad)).reshape(g.shape[0], self.r, -1, self.b)
        per_bank = banks.sum((1, 2))
        bad = torch.nonzero((per_bank != per_bank[:, :1]).any(1))
        if len(bad):
            k = int(bad[0])
            return (
                f"{self.spec}: group {k} {where}(rows {order[k * self.r:(k + 1) * self.r].tolist()}) "
                f"keeps unequal counts per bank {per_bank[k].tolist()}"
            )
        return None
