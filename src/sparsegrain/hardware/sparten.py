"""SparTen (Gondimalla et al., MICRO 2019; SPEC 4.3): bitmask chunks and an inner join.

The layer is lowered to dot products: every output position's receptive field (im2col column)
against every filter, both cut into chunks of ``chunk`` positions, each stored as a bitmask, its
nonzero values and a pointer. A cluster of compute units (CUs) shares one broadcast input chunk;
each CU holds one filter's chunk (filter reuse) and joins it with the input: AND of the masks,
prefix popcounts to find each matched pair's value offsets, one matched pair per multiplier per
cycle (a chunk with no match still costs a cycle). Output positions are dealt round-robin to
clusters; filters to the CUs of a cluster in passes of ``cus_per_cluster``. A cluster moves to
the next position when its slowest CU is done (choice: SparTen's chunk-level hardware balancing
and buffering are approximated by synchronising per position, not per chunk). With
``balance="density"`` filters are sorted by nonzero count before being dealt, so each pass holds
filters of similar density (SparTen's software greedy balancing, GB-S).

Buffers (words counted per buffer, priced by size, :mod:`.storage`): the global buffer
(``gb_kib``, read for each input chunk per position and pass and each filter chunk per pass and
cluster; outputs written back). It holds the layer's compressed input beside the current pass's
filters when both fit; when they do not, every pass of filters fetches the input again from
DRAM (counted as DRAM reads and buffer writes, extras ``input_dram_fetches``); each CU's filter buffer (the filter's chunks, written when the
filter arrives, masks read per join, values per matched pair); each cluster's input buffer (the
position's chunks, written per position and pass, read alike); a partial-sum register per CU
(read and written per join with a match); DRAM traffic of compressed weights, inputs, outputs.

The inner join's logic is priced per use in gate equivalents (GE, a 2-input NAND) of an 8-bit
adder, the smallest adder the energy table prices (int8_add; 8 full adders of about 7 GE each,
56 GE; Weste & Harris, CMOS VLSI Design, 4th ed., a 28-transistor mirror full adder and 4
transistors per GE): per join the AND of two chunk masks (one AND2, 1.5 GE, per bit); per matched
pair a priority encoder that finds the lowest set bit (a prefix OR, 2 GE per bit, and the
position's encoder, 1 GE per bit) and two prefix popcounts that give the pair's value offsets (a
counter tree of about one full adder per bit, 7 GE per bit, each). SparTen's paper reports the
join's power only for its whole CU, so this is an estimate from the circuit it describes.
``join_logic=False`` leaves it out (as earlier versions counted: two adds per popcount word).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
from numba import njit

from .actions import (
    DRAM_READ,
    DRAM_WRITE,
    INT8_ADD,
    INT16_MUL,
    INT32_ADD,
    RF_READ,
    RF_WRITE,
    SRAM_READ,
    SRAM_WRITE,
)
from .base import Accelerator, SimResult, register
from .layers import Layer
from .storage import GLOBAL_BUFFER_KIB, Storage

#: gate equivalents of an 8-bit adder (8 full adders x 7 GE), the unit the join is priced in
GE_PER_INT8_ADD = 56
#: GE per mask bit: the AND of a join; priority encoder and two popcounts of a matched pair
JOIN_GE_PER_BIT, MATCH_GE_PER_BIT = 1.5, 2 + 1 + 2 * 7


def bitmask_chunks(nonzero: np.ndarray, chunk: int) -> np.ndarray:
    """(rows, n) bool -> (rows, n_chunks, chunk / 64) uint64 bitmasks (bit k = position k)."""
    rows, n = nonzero.shape
    n_ch = -(-n // chunk)
    padded = np.zeros((rows, n_ch * chunk), bool)
    padded[:, :n] = nonzero
    packed = np.packbits(padded, axis=1, bitorder="little")
    return packed.view(np.uint64).reshape(rows, n_ch, chunk // 64)


def compress(values: np.ndarray, chunk: int, nz: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """The values at ``nz`` (default: the nonzero ones) row by row in position order, and each
    (row, chunk)'s start offset."""
    rows, n = values.shape
    n_ch = -(-n // chunk)
    nz = values != 0 if nz is None else nz
    padded = np.zeros((rows, n_ch * chunk), np.int64)
    padded[:, :n] = nz
    per_chunk = padded.reshape(rows, n_ch, chunk).sum(2).reshape(-1)
    ptr = np.zeros(rows * n_ch + 1, np.int64)
    np.cumsum(per_chunk, out=ptr[1:])
    return values[nz].astype(np.float64), ptr


@njit(cache=True)
def _popcount(v):  # pragma: no cover - numba
    v = v - ((v >> np.uint64(1)) & np.uint64(0x5555555555555555))
    v = (v & np.uint64(0x3333333333333333)) + ((v >> np.uint64(2)) & np.uint64(0x3333333333333333))
    v = (v + (v >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (v * np.uint64(0x0101010101010101)) >> np.uint64(56)


@njit(cache=True)
def _join(a_bits, a_vals, a_ptr, w_bits, w_vals, w_ptr, order, n_clusters, n_cus):  # pragma: no cover
    """Inner join of every (position, filter): outputs, cycles per cluster, matches, joins."""
    n_pos, n_ch, words = a_bits.shape
    n_f = w_bits.shape[0]
    out = np.zeros((n_pos, n_f))
    cluster_cycles = np.zeros(n_clusters, np.int64)
    matches = 0
    joins_with_match = 0
    for p0 in range(0, n_f, n_cus):
        p1 = min(p0 + n_cus, n_f)
        for m in range(n_pos):
            slowest = 0
            for q in range(p0, p1):
                f = order[q]
                t = 0
                acc = 0.0
                for j in range(n_ch):
                    base_a = a_ptr[m * n_ch + j]
                    base_w = w_ptr[f * n_ch + j]
                    off_a = 0
                    off_w = 0
                    hit = 0
                    for k in range(words):
                        am = a_bits[m, j, k]
                        wm = w_bits[f, j, k]
                        both = am & wm
                        while both:
                            low = both & (~both + np.uint64(1))
                            below = low - np.uint64(1)
                            ia = base_a + off_a + _popcount(am & below)
                            iw = base_w + off_w + _popcount(wm & below)
                            acc += a_vals[ia] * w_vals[iw]
                            hit += 1
                            both ^= low
                        off_a += _popcount(am)
                        off_w += _popcount(wm)
                    t += max(1, hit)
                    matches += hit
                    if hit:
                        joins_with_match += 1
                out[m, f] = acc
                slowest = max(slowest, t)
            cluster_cycles[m % n_clusters] += slowest
    return out, cluster_cycles, matches, joins_with_match


@register("sparten")
class SparTen(Accelerator):
    """Bitmask chunks, AND + prefix-popcount inner join, filter-holding CUs, broadcast inputs."""

    summary = "SparTen: 128-position bitmask chunks, inner join, CU clusters, greedy filter balance"

    def __init__(self, clusters: int = 32, cus_per_cluster: int = 32, chunk: int = 128,
                 balance: str = "density", value_bits: int = 16, pointer_bits: int = 32,
                 clock_hz: float = 1e9, gb_kib: float = GLOBAL_BUFFER_KIB, join_logic: bool = True,
                 skip_activations: bool = True) -> None:
        """32 clusters x 32 CUs = 1,024 multipliers (choice: equal to ``csph``'s default array),
        128-position chunks (SparTen), 16-bit values, 1 GHz and a 512 KiB global buffer
        (choices, the same as ``csph``'s); ``join_logic`` prices the inner join's logic;
        ``skip_activations=False`` stores every activation, zeros too (a one-sided machine that
        skips only zero weights, SparTen's own comparison point)."""
        if chunk % 64 or chunk < 64:
            raise ValueError(f"SparTen chunk must be a positive multiple of 64 positions, got {chunk}")
        if balance not in ("density", "none"):
            raise ValueError(f"SparTen balance must be 'density' or 'none', got {balance!r}")
        if clusters < 1 or cus_per_cluster < 1:
            raise ValueError("SparTen needs at least one cluster of one CU")
        self.clusters, self.cus, self.chunk, self.balance = clusters, cus_per_cluster, chunk, balance
        self.value_bits, self.pointer_bits, self.clock_hz = value_bits, pointer_bits, clock_hz
        self.gb_kib, self.join_logic, self.skip_activations = gb_kib, join_logic, skip_activations

    def _run(self, layer: Layer) -> SimResult:
        # long: the join, then every action and buffer of SparTen's dataflow counted side by side
        lay = layer.prepare()
        w, x = lay.matrix(), lay.columns()
        n_f, n_in = w.shape
        x_kept = x != 0 if self.skip_activations else np.ones(x.shape, bool)
        a_bits, w_bits = bitmask_chunks(x_kept, self.chunk), bitmask_chunks(w != 0, self.chunk)
        a_vals, a_ptr = compress(x, self.chunk, x_kept)
        w_vals, w_ptr = compress(w, self.chunk)
        nnz_f = (w != 0).sum(1)
        order = np.argsort(-nnz_f, kind="stable") if self.balance == "density" else np.arange(n_f)
        out, cluster_cycles, matches, joins = _join(a_bits, a_vals, a_ptr, w_bits, w_vals, w_ptr,
                                                     order.astype(np.int64), self.clusters, self.cus)
        n_pos, n_ch = x.shape[0], a_bits.shape[1]
        passes = math.ceil(n_f / self.cus)
        vw, mask_w = self.value_bits / 32, self.chunk / 32
        nnz_x, nnz_w = int(a_vals.size), int(w_vals.size)
        chunk_words_in = n_pos * n_ch * (mask_w + self.pointer_bits / 32) + nnz_x * vw
        chunk_words_w = n_f * n_ch * (mask_w + self.pointer_bits / 32) + nnz_w * vw
        active_clusters = min(self.clusters, n_pos)
        n_joins = n_pos * n_f * n_ch
        gb_in, gb_w = chunk_words_in * passes, chunk_words_w * active_clusters
        chunk_bytes = (self.chunk + self.chunk * self.value_bits + self.pointer_bits) / 8
        # the filter buffer and input buffer are read alike: a mask per join, a value per pair
        local_reads = n_joins * mask_w + matches * vw
        storage = {
            "global_buffer": Storage("sram", self.gb_kib * 1024, 128, gb_in + gb_w,
                                     n_pos * n_f * vw),
            "cu_filter_buffers": Storage("sram", n_ch * chunk_bytes, 128, local_reads, gb_w),
            "cluster_input_buffers": Storage("sram", n_ch * chunk_bytes, 128, local_reads, gb_in),
            "partial_sums": Storage("rf", 4, 32, joins, joins),
        }
        if self.join_logic:
            logic = (n_joins * JOIN_GE_PER_BIT + matches * MATCH_GE_PER_BIT) * self.chunk
            join = {INT8_ADD: logic / GE_PER_INT8_ADD, INT32_ADD: matches}
        else:
            join = {INT32_ADD: matches + n_joins * 2 * (self.chunk // 64)}
        in_dram = _unique_input_words(lay, self.chunk, vw, self.pointer_bits,
                                      self.skip_activations)
        actions = {
            SRAM_READ: gb_in + gb_w + 2 * local_reads,
            SRAM_WRITE: n_pos * n_f * vw + gb_w + gb_in,
            RF_READ: joins,
            RF_WRITE: joins,
            INT16_MUL: matches,
            **join,
            DRAM_READ: chunk_words_w + in_dram,
            DRAM_WRITE: n_pos * n_f * vw,
        }
        cycles = float(cluster_cycles.max())
        multipliers = self.clusters * self.cus
        buf_filter_bits = self.chunk + self.chunk * self.value_bits + self.pointer_bits
        return with_global_buffer(SimResult(
            accel=self.name, cycles=cycles, clock_hz=self.clock_hz, actions=actions,
            traffic_bytes={},
            utilization=matches / (cycles * multipliers) if cycles else 0.0,
            extras={"matched_pairs": int(matches), "joins": int(n_joins), "passes": passes,
                    "multipliers": multipliers, "useful_macs": int(matches),
                    "cu_filter_buffer_bytes": buf_filter_bits / 8,
                    "cluster_input_buffer_bytes": n_ch * buf_filter_bits / 8,
                    "gb_input_reads_words": chunk_words_in * passes,
                    "input_words": in_dram,
                    "pass_filter_words": chunk_words_w / n_f * min(self.cus, n_f),
                    "input_dram_fetches": 1},
            outputs=lay.fold(out), storage=storage,
        ), self.gb_kib)


def with_global_buffer(r: SimResult, gb_kib: float) -> SimResult:
    """SparTen's run ``r`` (as simulated: input fetched once) as it would be with a global
    buffer of ``gb_kib``: the input stays in it beside each pass's filters when both fit; when
    they do not, every pass of filters fetches the input again from DRAM and writes it into the
    buffer (the run's cycles do not change: the fetch overlaps the previous pass). ``0`` is the
    bound where no buffer keeps inputs: every input chunk a cluster reads, per position and
    pass, comes from DRAM."""
    ex = r.extras
    if ex["input_dram_fetches"] != 1:
        raise ValueError("with_global_buffer takes a run that fetched its input once")
    gb = r.storage["global_buffer"]
    if gb_kib == 0:  # the bound: no buffer keeps inputs, every chunk read comes from DRAM
        moved = ex["gb_input_reads_words"]
        # fetches: how many times the input's words come from DRAM, in whole-input units
        fetches = moved / ex["input_words"]
        more, gb_reads, gb_writes = moved - ex["input_words"], -moved, 0.0
    else:
        fit = (ex["input_words"] + ex["pass_filter_words"]) * 4 <= gb_kib * 1024
        fetches = 1 if fit else ex["passes"]
        more = gb_writes = ex["input_words"] * (fetches - 1)
        gb_reads = 0.0
    actions = {**r.actions, DRAM_READ: r.actions[DRAM_READ] + more,
               SRAM_READ: r.actions[SRAM_READ] + gb_reads,
               SRAM_WRITE: r.actions[SRAM_WRITE] + gb_writes}
    storage = {**r.storage, "global_buffer": replace(
        gb, nbytes=max(gb_kib, 1) * 1024, reads=gb.reads + gb_reads, writes=gb.writes + gb_writes)}
    traffic = {"dram": (actions[DRAM_READ] + actions[DRAM_WRITE]) * 4,
               "sram": (actions[SRAM_READ] + actions[SRAM_WRITE]) * 4,
               "rf": (actions[RF_READ] + actions[RF_WRITE]) * 4}
    return replace(r, actions=actions, storage=storage, traffic_bytes=traffic,
                   extras={**ex, "input_dram_fetches": fetches})


def _unique_input_words(lay: Any, chunk: int, vw: float, pointer_bits: int, skip: bool) -> float:
    """DRAM words of the layer's (unlowered) input activations in bitmask-chunk form (every
    value stored when zeros are not ``skip``ped)."""
    flat = lay.x.reshape(lay.x.shape[0], -1)
    n_ch = -(-flat.shape[1] // chunk)
    stored = np.count_nonzero(flat) if skip else flat.size
    return flat.shape[0] * n_ch * (chunk + pointer_bits) / 32 + stored * vw
