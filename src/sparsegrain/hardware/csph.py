"""CSP-H (Hanson et al., ISCA 2022; SPEC 4.4), reconstructed: an output-stationary PE chain
that runs cascading-structured (CSP-A) masks without any index matching.

The layer is seen as W[i, o] (rows i = kernel position x input channel, the im2col order; columns
o = output channels in n chunks of C). A CSP mask keeps a prefix of L_i whole chunks of every row.
A chain of ``n_pe`` PEs takes ``n_pe`` consecutive output positions at a time (a tile); each PE
holds all C_out partial sums of its position in n bins of C registers. Activations stream in
im2col order and are forwarded PE to PE, so each unique input activation of a tile is read from
the global buffer once; zero activations are skipped. For a nonzero activation a_i a counter is
loaded with L_i and the PE reads weight chunks 0..L_i-1 in sequence, one per cycle, doing C MACs
into bin j. Choices (documented parameters): weight chunks are read once per tile from the
weight buffer and passed along the chain with the activations; a tile takes as long as its
busiest PE plus ``n_pe - 1`` cycles of chain fill; C_out beyond ``acc_regs`` partial sums is run
in several passes, re-streaming the activations.

Buffers (priced by size, :mod:`.storage`): the global buffer (``gb_kib``; activations read once
per tile and pass, outputs written); the weight buffer (the layer's kept values, one chunk of C
values per access); each PE's accumulation bins (``acc_regs`` partial sums, read and written
C at a time, once per MAC chunk: an SRAM of 8 KiB at the defaults); the PE chain's forwarding
registers. Each activation loads a counter with L_i and each chunk use decrements and tests it:
an 8-bit add apiece (the counter is at most ``l_bits`` wide).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from numba import njit

from ..patterns import pattern
from ..patterns.base import Geometry
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


def chunk_prefix(mask_io: np.ndarray, c: int) -> np.ndarray:
    """L_i of every row of a cascading (csp:C) mask given as (inputs x outputs): its whole
    chunks of C outputs kept before the first pruned one."""
    rows, c_out = mask_io.shape
    n = -(-c_out // c)
    counts = np.add.reduceat(mask_io.astype(np.int64), np.arange(0, c_out, c), axis=1)
    widths = np.minimum(np.arange(1, n + 1) * c, c_out) - np.arange(n) * c
    return np.cumprod(counts == widths, axis=1).sum(1).astype(np.int64)


#: partial sums per PE (choice: 2,048, ResNet-50's widest layer in one pass)
ACC_REGS = 2048
#: what the accumulation bins may be built as
BIN_KINDS = ("sram", "rf")


def check_chunk(chunk: int, acc_regs: int = ACC_REGS) -> None:
    """Refuse a chunk width C that a PE cannot hold, before anything is built for it: a PE keeps
    its partial sums in bins of C, so C is 1 to its ``acc_regs`` accumulators."""
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) \
            or not 1 <= chunk <= acc_regs:
        raise ValueError(f"chunk must be 1 to {acc_regs} output channels (a CSP-H PE holds "
                         f"{acc_regs} partial sums, in bins of C), got {chunk}")


@njit(cache=True)
def _chain(cols, w_io, prefix, ends, pos_in, kh, kw, c_in, h, wd, ho, wo, stride, pad,
           n_pe, pass_bounds):  # pragma: no cover - numba
    """Outputs, cycles and per-kind counts of the PE chain over every tile and pass."""
    n_pos, n_rows = cols.shape
    c_out = w_io.shape[1]
    out = np.zeros((n_pos, c_out))
    seen = np.full(pos_in, -1, np.int64)
    row_used = np.full(n_rows, -1, np.int64)
    cycles = 0
    macs = 0
    chunk_uses = 0
    act_uses = 0
    act_reads = 0
    weight_chunk_reads = 0
    weight_words = 0
    stamp = 0
    for p in range(pass_bounds.size - 1):
        j0, j1 = pass_bounds[p], pass_bounds[p + 1]
        for t0 in range(0, n_pos, n_pe):
            t1 = min(t0 + n_pe, n_pos)
            busiest = 0
            for m in range(t0, t1):
                work = 0
                per_img = ho * wo
                img, rest = m // per_img, m % per_img
                oy, ox = rest // wo, rest % wo
                for i in range(n_rows):
                    a = cols[m, i]
                    if a == 0.0:
                        continue
                    lo, hi = j0, min(prefix[i], j1)
                    if hi <= lo:
                        continue
                    # which input activation this is (conv: through the kernel offset)
                    if kh > 0:
                        r = i // (kw * c_in)
                        s = (i // c_in) % kw
                        ch = i % c_in
                        iy = oy * stride - pad + r
                        ix = ox * stride - pad + s
                        src = ((img * c_in + ch) * h + iy) * wd + ix
                    else:
                        src = m * n_rows + i
                    if seen[src] != stamp:
                        seen[src] = stamp
                        act_reads += 1
                    if row_used[i] != stamp:
                        row_used[i] = stamp
                        weight_chunk_reads += hi - lo
                        weight_words += ends[hi] - ends[lo]
                    act_uses += 1
                    work += hi - lo
                    chunk_uses += hi - lo
                    for o in range(ends[lo], ends[hi]):
                        out[m, o] += a * w_io[i, o]
                    macs += ends[hi] - ends[lo]
                busiest = max(busiest, work)
            if busiest:
                cycles += busiest + (t1 - t0) - 1
            stamp += 1
    return out, cycles, macs, chunk_uses, act_uses, act_reads, weight_chunk_reads, weight_words


@register("csph")
class CSPH(Accelerator):
    """Output-stationary PE chain with chunked accumulation bins; CSP masks only."""

    summary = "CSP-H: output-stationary PE chain, n bins x C accumulators, L_i counters (csp:C masks)"

    @classmethod
    def for_pattern(cls, geometry: Geometry) -> dict[str, Any] | None:
        """The chunk width C of ``csp:C`` (SPEC 4.4)."""
        return None if geometry.chunk is None else {"chunk": geometry.chunk}

    def __init__(self, n_pe: int = 32, chunk: int = 32, acc_regs: int = ACC_REGS,
                 value_bits: int = 16, psum_bits: int = 32, clock_hz: float = 1e9,
                 gb_kib: float = GLOBAL_BUFFER_KIB, bins: str = "sram") -> None:
        """``n_pe`` PEs of ``chunk`` (= C, at most ``acc_regs``) multipliers each (choice: 32 x 32
        = 1,024, SparTen's default count), ``acc_regs`` partial sums per PE (:data:`ACC_REGS`),
        16-bit values, 32-bit partial sums, 1 GHz, a 512 KiB global buffer. ``bins``: what the
        accumulation bins are built as, ``sram`` (default: 8 KiB per PE is an SRAM's size; the
        paper's public abstract does not say) or ``rf`` (register bins, as a third-party reading
        of the paper describes them), priced by size either way."""
        if bins not in BIN_KINDS:
            raise ValueError(f"CSP-H bins must be one of {', '.join(BIN_KINDS)}, got {bins!r}")
        self.bins = bins
        for name, n in (("n_pe", n_pe), ("acc_regs", acc_regs)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"CSP-H {name} must be an integer >= 1, got {n!r}")
        check_chunk(chunk, acc_regs)
        self.n_pe, self.chunk, self.acc_regs = n_pe, chunk, acc_regs
        self.value_bits, self.psum_bits, self.clock_hz = value_bits, psum_bits, clock_hz
        self.gb_kib = gb_kib
        self.pattern = pattern(f"csp:{chunk}")  # the masks it runs, parsed once

    def declines(self, layer: Layer) -> str | None:
        """CSP-H runs cascading masks of its own chunk width only (csp:C with C = ``chunk``)."""
        mask = torch.from_numpy(layer.prepare().mask_matrix())
        violation = self.pattern.violation(mask)
        if violation is None:
            return None
        return (f"csph runs csp:{self.chunk} masks only ({violation}); prune with "
                f"sparsegrain.pattern('csp:{self.chunk}') or set chunk= to the mask's chunk width")

    def _run(self, layer: Layer) -> SimResult:
        lay = layer.prepare()
        w_io = np.ascontiguousarray(lay.matrix().T)
        prefix = chunk_prefix(np.ascontiguousarray(lay.mask_matrix().T), self.chunk)
        c_out = w_io.shape[1]
        n_chunks = -(-c_out // self.chunk)
        ends = np.minimum(np.arange(n_chunks + 1) * self.chunk, c_out).astype(np.int64)
        per_pass = max(1, self.acc_regs // self.chunk)
        bounds = np.r_[np.arange(0, n_chunks, per_pass), n_chunks].astype(np.int64)
        cols = lay.columns().astype(np.float64)
        if lay.kind == "conv":
            _, c_in, h, wd = lay.x.shape
            _, _, kh, kw = lay.weight.shape
            ho, wo = lay.out_shape[2:]
        else:
            c_in = h = wd = kh = kw = 0
            ho = wo = 1
        out, cycles, macs, chunk_uses, act_uses, act_reads, w_chunks, w_elems = _chain(
            cols, w_io.astype(np.float64), prefix, ends, lay.x.size, kh, kw, c_in, h, wd, ho, wo,
            lay.stride, lay.padding, self.n_pe, bounds)
        vw, pw = self.value_bits / 32, self.psum_bits / 32
        n_pos = cols.shape[0]
        nnz_x = int(np.count_nonzero(lay.x))
        l_bits = math.ceil(math.log2(n_chunks + 1))
        kept = int(lay.mask.sum())
        storage = {
            "global_buffer": Storage("sram", self.gb_kib * 1024, 128, act_reads * vw,
                                     n_pos * c_out * vw),
            "weight_buffer": Storage("sram", max(kept * self.value_bits / 8, 1), self.chunk
                                     * self.value_bits, w_elems * vw, 0.0),
            "accumulation_bins": Storage(self.bins, self.acc_regs * self.psum_bits / 8,
                                         self.chunk * self.psum_bits, macs * pw, macs * pw),
            # forwarded activations and broadcast weight chunks through PE registers
            "chain_registers": Storage("rf", (1 + self.chunk) * self.value_bits / 8, 32,
                                       act_uses * vw + chunk_uses * self.chunk * vw, act_uses * vw),
        }
        bins_sram, bins_rf = (macs * pw, 0.0) if self.bins == "sram" else (0.0, macs * pw)
        actions = {
            SRAM_READ: act_reads * vw + w_elems * vw + bins_sram,
            SRAM_WRITE: n_pos * c_out * vw + bins_sram,
            RF_READ: act_uses * vw + chunk_uses * self.chunk * vw + bins_rf,
            RF_WRITE: act_uses * vw + bins_rf,
            INT16_MUL: macs,
            INT32_ADD: macs,
            INT8_ADD: act_uses + chunk_uses,  # the L_i counter: loaded, then stepped per chunk
            DRAM_READ: kept * vw + prefix.size * l_bits / 32 + nnz_x * vw + lay.x.size / 32,
            DRAM_WRITE: n_pos * c_out * vw,
        }
        multipliers = self.n_pe * self.chunk
        return SimResult(
            accel=self.name, cycles=float(cycles), clock_hz=self.clock_hz, actions=actions,
            traffic_bytes={"dram": (actions[DRAM_READ] + actions[DRAM_WRITE]) * 4,
                           "sram": (actions[SRAM_READ] + actions[SRAM_WRITE]) * 4,
                           "rf": (actions[RF_READ] + actions[RF_WRITE]) * 4},
            utilization=macs / (cycles * multipliers) if cycles else 0.0,
            extras={"useful_macs": int(macs), "chunk_cycles": int(chunk_uses), "passes": bounds.size - 1,
                    "gb_activation_reads": int(act_reads), "activation_uses": int(act_uses),
                    "weight_chunk_reads": int(w_chunks), "multipliers": multipliers,
                    "accumulation_bins": n_chunks, "l_bits": l_bits},
            outputs=lay.fold(out), storage=storage,
        )
