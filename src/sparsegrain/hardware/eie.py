"""EIE (Han et al., ISCA 2016): a cycle-exact model of the sparse matrix-vector engine.

The machine (SPEC 4.1): a central unit scans the input activations in groups of ``n_pe``
(leading-nonzero detection) and broadcasts at most one nonzero (index, value) per cycle to every
PE's activation queue, stalling while any queue is full. Each PE owns the rows ``i % n_pe == k``
in relative-index CSC; per queued activation it reads the column's two pointers (one cycle,
overlapped with the first entry), then streams one entry per cycle (fillers included, an empty
slice still costs its pointer cycle) from 64-bit weight SRAM lines into a 3-stage arithmetic
pipeline (decode; multiply and read accumulator; add and write, with a bypass). The bias is one
more column, processed last with activation 1.0.

The cycle rules (register timing, queue full/empty tests, end-of-layer test) follow the EIE
authors' RTL-level C++ simulator, so that the shipped AlexNet fc8 data gives their 7,926 cycles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import torch

from ..core.arrays import as_float32
from ..formats import encode
from ..formats.eie import EIEFormat, pointer_bits_for
from .actions import INT8_ADD, INT16_ADD, INT16_MUL, RF_READ, RF_WRITE, SRAM_READ
from .base import Accelerator, SimResult, register
from .inputs import random_activations
from .layers import Layer
from .storage import Storage

#: Cycles from a PE's pointer/entry stage to the end-of-layer test seeing its write retire:
#: weight SRAM read, decode, multiply, add/write, then the activation unit's write register.
DRAIN_CYCLES = 6
#: The authors' simulator never stops before this many cycles.
MIN_CYCLES = 9
#: ``stats`` slots filled by the kernel, in order.
_STATS = (
    "useful_macs", "filler_entries", "empty_slice_cycles", "pointer_reads", "weight_line_reads",
    "bypasses", "broadcasts", "stall_cycles", "empty_scans", "last_useful_cycle",
    "empty_state_cycle", "first_quiet_cycle",
)
(USEFUL, FILLERS, EMPTY_SLICES, POINTER_READS, LINE_READS, BYPASSES, BROADCASTS, STALLS,
 EMPTY_SCANS, LAST_USEFUL, EMPTY_STATE, FIRST_QUIET) = range(len(_STATS))

@dataclass(frozen=True)
class EIELayer:
    """One layer in EIE's per-PE relative-index CSC, as plain arrays.

    ``ptr[k, j] .. ptr[k, j+1]-1`` are PE k's entries of column j (offsets into PE k's own
    entries, which start at ``base[k]`` in ``codes``/``zeros_before``). The last column is the
    bias when ``has_bias``.
    """

    n_pe: int
    n_rows: int
    n_inputs: int
    ptr: np.ndarray  # (n_pe, n_cols + 1) int64
    base: np.ndarray  # (n_pe + 1,) int64
    codes: np.ndarray  # (total,) uint8, 0 = filler / zero
    zeros_before: np.ndarray  # (total,) uint8
    codebook: np.ndarray  # (2**code_bits,) float32, entry 0 is 0.0
    has_bias: bool
    index_bits: int = 4
    code_bits: int = 4
    pointer_bits: int = 16

    @classmethod
    def from_pe_lists(
        cls,
        ptrs: list[np.ndarray],
        codes: list[np.ndarray],
        zeros_before: list[np.ndarray],
        codebook: np.ndarray,
        n_rows: int,
        n_inputs: int,
        has_bias: bool,
        index_bits: int = 4,
        code_bits: int = 4,
        pointer_bits: int = 16,
    ) -> EIELayer:
        """Stack per-PE pointer/entry arrays (PE k at position k) into one layer."""
        sizes = np.array([len(c) for c in codes], dtype=np.int64)
        return cls(
            n_pe=len(ptrs),
            n_rows=int(n_rows),
            n_inputs=int(n_inputs),
            ptr=np.stack([np.asarray(p, dtype=np.int64) for p in ptrs]),
            base=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            codes=np.concatenate([np.asarray(c, dtype=np.uint8) for c in codes]),
            zeros_before=np.concatenate([np.asarray(z, dtype=np.uint8) for z in zeros_before]),
            codebook=np.asarray(codebook, dtype=np.float32),
            has_bias=bool(has_bias),
            index_bits=index_bits,
            code_bits=code_bits,
            pointer_bits=pointer_bits,
        )

    def column_entries(self) -> np.ndarray:
        """Entries (fillers included) of each PE's slice of each column, shape (n_pe, n_cols)."""
        return np.diff(self.ptr, axis=1)


def broadcast_schedule(
    activations: np.ndarray, n_pe: int, has_bias: bool
) -> tuple[np.ndarray, int]:
    """The central unit's steps: column index broadcast, or -1 for a scan that finds nothing.

    A group of ``n_pe`` activations is loaded in the cycle its last nonzero is sent if that one
    sits in the group's last slot, else one extra (empty) scan cycle loads the next group; the
    machine starts with one empty scan. Returns the steps and the index of the first step on
    the last group (the bias group if any): the authors' end-of-layer test waits for it.
    """
    n = len(activations)
    groups = -(-n // n_pe)
    padded = np.zeros(groups * n_pe, dtype=np.float32)
    padded[:n] = activations
    nz = (padded != 0).reshape(groups, n_pe)
    g, p = np.nonzero(nz)
    keys = [g * (n_pe + 1) + p]
    cols = [g * n_pe + p]
    empty_groups = np.nonzero(~nz[:, -1])[0]
    keys.append(empty_groups * (n_pe + 1) + n_pe)
    cols.append(np.full(len(empty_groups), -1))
    order = np.argsort(np.concatenate(keys), kind="stable")
    steps = np.concatenate([[-1], np.concatenate(cols)[order]]).astype(np.int64)
    if has_bias:
        handed_over = len(steps)  # the bias group is the last one the activation unit hands over
        tail = [n] + ([] if n_pe == 1 else [-1])
        steps = np.concatenate([steps, tail]).astype(np.int64)
    else:
        per_group = nz.sum(axis=1) + ~nz[:, -1]
        handed_over = 1 + int(per_group[:-1].sum())
    return steps, handed_over


@numba.njit(cache=True)
def _run_kernel(ptr, base, codes, zeros_before, codebook, steps, empty_from, values,
                n_rows, fifo_depth, line_entries, max_cycles):  # pragma: no cover - compiled
    """Step EIE cycle by cycle; returns (cycles, stats, outputs)."""
    # long: one compiled cycle loop whose state (queues, pointers, counters) numba keeps in registers
    n_pe = ptr.shape[0]
    n_steps = steps.shape[0]
    y = np.zeros(n_rows, dtype=np.float32)
    stats = np.zeros(len(_STATS), dtype=np.int64)
    stats[LAST_USEFUL] = -DRAIN_CYCLES  # no real entry yet
    stats[EMPTY_STATE] = -1
    stats[FIRST_QUIET] = -1
    popped = np.zeros(n_pe, dtype=np.int64)
    holding = np.zeros(n_pe, dtype=np.bool_)
    pos = np.zeros(n_pe, dtype=np.int64)
    end = np.zeros(n_pe, dtype=np.int64)
    act = np.zeros(n_pe, dtype=np.float32)
    row = np.zeros(n_pe, dtype=np.int64)
    last_line = np.full(n_pe, -1, dtype=np.int64)
    last_write_cycle = np.full(n_pe, -10, dtype=np.int64)
    last_write_row = np.full(n_pe, -1, dtype=np.int64)
    queue = np.zeros(max(n_steps, 1), dtype=np.int64)  # broadcast columns, shared by all queues
    useful_at = np.zeros(8, dtype=np.bool_)  # which of the last 8 cycles emitted a real entry
    nb = 0  # activations broadcast so far
    min_popped = 0
    s = 0
    drained = False  # every step sent, every queue and PE empty
    for c in range(max_cycles):
        if s >= empty_from and stats[EMPTY_STATE] < 0:
            stats[EMPTY_STATE] = c
        # the authors' end-of-layer test: bias group loaded and no write retiring this cycle
        quiet = s >= empty_from and not useful_at[(c - DRAIN_CYCLES + 1) % 8]
        if c >= MIN_CYCLES and quiet and stats[FIRST_QUIET] < 0:
            stats[FIRST_QUIET] = c
        if not drained and s >= n_steps and min_popped == nb and not holding.any():
            drained = True
        finish = max(MIN_CYCLES, stats[LAST_USEFUL] + DRAIN_CYCLES, stats[EMPTY_STATE])
        if drained and c >= finish:
            return c, stats, y
        useful_at[c % 8] = False
        one_full = nb - min_popped >= fifo_depth - 1
        push = -1
        if s < n_steps:
            col = steps[s]
            if col < 0:
                s += 1
                stats[EMPTY_SCANS] += 1
            elif one_full:
                stats[STALLS] += 1
            else:
                push = col
                s += 1
        new_min = nb + 1
        for k in range(n_pe):
            read_ptr = True
            if holding[k]:
                if pos[k] < end[k]:
                    e = pos[k]
                    line = (e - base[k]) // line_entries
                    if line != last_line[k]:
                        stats[LINE_READS] += 1
                        last_line[k] = line
                    row[k] += zeros_before[e] + 1
                    code = codes[e]
                    if code != 0:
                        r = row[k] * n_pe + k
                        y[r] += codebook[code] * act[k]
                        stats[USEFUL] += 1
                        useful_at[c % 8] = True
                        if last_write_cycle[k] == c - 1 and last_write_row[k] == row[k]:
                            stats[BYPASSES] += 1
                        last_write_cycle[k] = c
                        last_write_row[k] = row[k]
                    else:
                        stats[FILLERS] += 1
                    pos[k] = e + 1
                    read_ptr = pos[k] == end[k]
                else:
                    stats[EMPTY_SLICES] += 1
            if read_ptr:
                if nb > popped[k]:
                    col = queue[popped[k]]
                    popped[k] += 1
                    holding[k] = True
                    pos[k] = base[k] + ptr[k, col]
                    end[k] = base[k] + ptr[k, col + 1]
                    act[k] = values[col]
                    row[k] = -1
                    stats[POINTER_READS] += 1
                else:
                    holding[k] = False
            if popped[k] < new_min:
                new_min = popped[k]
        min_popped = new_min
        if useful_at[c % 8]:
            stats[LAST_USEFUL] = c
        if push >= 0:
            queue[nb] = push
            nb += 1
            stats[BROADCASTS] += 1
    return -1, stats, y


def simulate_layer(
    layer: EIELayer,
    activations: np.ndarray,
    fifo_depth: int = 8,
    sram_width: int = 64,
) -> tuple[int, dict[str, int], np.ndarray]:
    """Cycle-exact run of one layer: (cycles, counts by kind, outputs)."""
    acts = np.asarray(activations, dtype=np.float32)
    steps, empty_from = broadcast_schedule(acts, layer.n_pe, layer.has_bias)
    values = np.concatenate([acts, np.ones(1, dtype=np.float32)]) if layer.has_bias else acts
    entries = layer.column_entries()
    active = np.abs(values) > 0
    work = np.maximum(entries[:, active], 1).sum(axis=1).max() if active.any() else 0
    # every cycle either sends a step or serves the busiest PE, plus queue stalls bounded above
    max_cycles = int((len(steps) + work + DRAIN_CYCLES + MIN_CYCLES + 8) * 2 + 64)
    line_entries = max(1, sram_width // (layer.code_bits + layer.index_bits))
    cycles, stats, y = _run_kernel(
        layer.ptr, layer.base, layer.codes, layer.zeros_before, layer.codebook, steps,
        empty_from, values, layer.n_rows, fifo_depth, line_entries, max_cycles,
    )
    if cycles < 0:
        raise RuntimeError(f"EIE model did not finish within {max_cycles} cycles")
    counts = {name: int(v) for name, v in zip(_STATS, stats)}
    # The authors' simulator stops at the first cycle after the bias group is loaded in which no
    # PE writes; that can cut a layer short when every PE idles at once (e.g. one PE meeting an
    # empty column slice). This model runs until the last write retires and reports both.
    quiet = counts.pop("first_quiet_cycle")
    counts["reference_end_cycle"] = quiet if quiet >= 0 else int(cycles)
    del counts["last_useful_cycle"], counts["empty_state_cycle"]
    return int(cycles), counts, y


def input_weights(layer: EIELayer) -> int:
    """Nonzero codes in the input columns (the bias column left out)."""
    real = np.concatenate([[0], np.cumsum(layer.codes != 0)])
    starts = layer.base[:-1]
    return int((real[starts + layer.ptr[:, layer.n_inputs]] - real[starts]).sum())


def layer_from_encoded(enc: Any) -> EIELayer:
    """An EIE-format :class:`~sparsegrain.formats.eie.EIEFormat` as plain per-PE arrays."""
    rows, cols = enc.matrix_shape
    return EIELayer.from_pe_lists(
        enc.ptr, enc.codes, enc.zeros_before, enc.codebook, rows, cols - int(enc.bias_column),
        enc.bias_column, enc.index_bits, enc.code_bits, enc.pointer_bits,
    )


def item_work(layer: EIELayer, active_cols: np.ndarray) -> np.ndarray:
    """Cycles each PE spends on each broadcast column: its entries, at least one (pointer read)."""
    return np.maximum(layer.column_entries()[:, active_cols], 1)


def analytic_cycles(layer: EIELayer, activations: np.ndarray) -> int:
    """Cycles with unbounded queues, from per-PE work only (no cycle stepping).

    With queues that never fill, PE k starts column j at max(its previous finish, the cycle the
    central unit sends j + 2) and spends ``max(1, entries)`` cycles on it, so its last entry
    leaves at max over j of (send_j + 1 + remaining work from j). Finite queues only add
    stalls, so this is (up to the pipeline tail) a lower bound on the exact count.
    """
    acts = np.asarray(activations, dtype=np.float32)
    steps, empty_from = broadcast_schedule(acts, layer.n_pe, layer.has_bias)
    sent = np.nonzero(steps >= 0)[0]
    if len(sent) == 0:
        return max(MIN_CYCLES, empty_from)
    work = item_work(layer, steps[sent])
    # a PE's last write is its last non-empty column's last entry (fillers come before entries)
    nonempty = layer.column_entries()[:, steps[sent]] > 0
    last = np.where(nonempty.any(axis=1), len(sent) - 1 - np.argmax(nonempty[:, ::-1], axis=1), -1)
    upto = np.arange(len(sent))[None, :] <= last[:, None]
    remaining = np.cumsum((work * upto)[:, ::-1], axis=1)[:, ::-1]
    finish = np.where(upto, sent[None, :] + 1 + remaining, -DRAIN_CYCLES)
    return max(MIN_CYCLES, int(finish.max()) + DRAIN_CYCLES, empty_from)


def work_counts(layer: EIELayer, activations: np.ndarray, sram_width: int) -> dict[str, int]:
    """Action counts that do not depend on timing (the analytic mode's counts)."""
    acts = np.asarray(activations, dtype=np.float32)
    values = np.concatenate([acts, [1.0]]) if layer.has_bias else acts
    active = np.nonzero(values != 0)[0]
    real = np.concatenate([[0], np.cumsum(layer.codes != 0)])
    start = layer.base[:-1, None] + layer.ptr[:, active]
    stop = layer.base[:-1, None] + layer.ptr[:, active + 1]
    entries = stop - start
    useful = int((real[stop] - real[start]).sum())
    line_entries = max(1, sram_width // (layer.code_bits + layer.index_bits))
    line_reads = 0
    for k in range(layer.n_pe):
        nonempty = entries[k] > 0
        first = (start[k, nonempty] - layer.base[k]) // line_entries
        last = (stop[k, nonempty] - 1 - layer.base[k]) // line_entries
        changes = np.concatenate([[-1], last[:-1]]) != first
        line_reads += int((last - first).sum() + changes.sum())
    return {
        "useful_macs": useful,
        "filler_entries": int(entries.sum()) - useful,
        "empty_slice_cycles": int((entries == 0).sum()),
        "pointer_reads": int(entries.size),
        "weight_line_reads": line_reads,
        "bypasses": 0,
        "broadcasts": len(active),
    }


@register("eie")
class EIE(Accelerator):
    """EIE: 64 PEs, activation queues, relative-index CSC weights with 4-bit codes (ISCA 2016)."""

    summary = "EIE sparse matrix-vector engine, cycle-exact (Han et al., ISCA 2016)"
    exact_outputs = False  # 4-bit shared weights
    stacks_gates = True  # NT-LSTM in the paper's Table III: 2,400 x 1,201 = 4 gates x [x, h, 1]

    def __init__(
        self,
        n_pe: int | None = None,
        fifo_depth: int = 8,
        clock_hz: float = 800e6,
        sram_width: int = 64,
        mode: str = "exact",
        codebook: Any = None,
        max_vectors: int | None = 512,
    ) -> None:
        """``fifo_depth`` slots per activation queue (holding ``fifo_depth - 1``, as in the
        authors' ring buffer); ``n_pe`` defaults to the encoding's, else 64 (the paper's).
        A layer with more activation vectors than ``max_vectors`` (a convolution's output
        positions) is run on that many evenly spaced ones and its counts scaled to all of them
        (None: every vector), since each vector is a separate product on the same weights."""
        if n_pe is not None and (not isinstance(n_pe, (int, np.integer)) or n_pe < 1):
            raise ValueError(f"n_pe must be an integer >= 1, got {n_pe!r}")
        if not isinstance(fifo_depth, (int, np.integer)) or fifo_depth < 2:
            raise ValueError(
                f"fifo_depth must be an integer >= 2 (slots of the ring buffer, holding "
                f"fifo_depth - 1 activations), got {fifo_depth!r}"
            )
        if clock_hz <= 0:
            raise ValueError(f"clock_hz must be > 0, got {clock_hz!r}")
        if not isinstance(sram_width, (int, np.integer)) or sram_width < 8:
            raise ValueError(f"sram_width must be an integer >= 8 (bits), got {sram_width!r}")
        if mode not in ("exact", "analytic"):
            raise ValueError(f"mode must be 'exact' or 'analytic', got {mode!r}")
        if max_vectors is not None and (not isinstance(max_vectors, (int, np.integer)) or max_vectors < 1):
            raise ValueError(f"max_vectors must be an integer >= 1 or None, got {max_vectors!r}")
        self.max_vectors = max_vectors
        self.n_pe = n_pe
        self.fifo_depth = int(fifo_depth)
        self.clock_hz = float(clock_hz)
        self.sram_width = int(sram_width)
        self.mode = mode
        self.codebook = codebook

    def encode(self, weight: torch.Tensor) -> EIEFormat:
        """The EIE encoding of a masked 2-D weight for this machine: its PEs (64 unless set) and
        codebook, with the pointer width the EIE format picks for the mask."""
        n_pe = 64 if self.n_pe is None else self.n_pe
        keep = (weight != 0).numpy()
        return encode(weight, "eie", n_pe=n_pe, codebook=self.codebook,
                      pointer_bits=pointer_bits_for(keep, n_pe))

    def declines(self, layer: Layer) -> str | None:
        """EIE reads its own encoding (or encodes a dense weight itself) for its PE count."""
        enc = layer.encoded
        if enc is not None and not isinstance(enc, EIEFormat):
            return f"eie reads EIE encodings or dense weights, not a {enc.fmt} encoding"
        if enc is not None and layer.kind == "conv":
            return "an EIE encoding holds a 2-D matrix; give a conv layer as its dense weight"
        if enc is not None and self.n_pe is not None and self.n_pe != enc.n_pe:
            return (f"n_pe = {self.n_pe} but the weight is encoded for {enc.n_pe} PEs; "
                    "re-encode it or leave n_pe unset")
        return None

    def _run(self, layer: Layer) -> SimResult:
        """Each activation vector (each sample; for a conv, each output position's receptive
        field, as im2col lowers it) is one matrix-vector product on the same encoding."""
        run = None if layer.encoded is not None else layer.prepare()
        if run is None:
            enc, vectors = layer.encoded, self._vectors(layer, layer.encoded)
        else:
            enc, vectors = self.encode(torch.from_numpy(run.matrix())), run.columns()
        eie = layer_from_encoded(enc)
        run_on = vectors
        if self.max_vectors is not None and len(vectors) > self.max_vectors:
            run_on = vectors[np.linspace(0, len(vectors) - 1, self.max_vectors).round().astype(int)]
        cycles, counts, outputs = 0, {}, []
        for acts in run_on:
            if self.mode == "exact":
                c, k, y = simulate_layer(eie, acts, self.fifo_depth, self.sram_width)
            else:
                c, k, y = analytic_cycles(eie, acts), work_counts(eie, acts, self.sram_width), None
            cycles += c
            counts = {n: counts.get(n, 0) + v for n, v in k.items()}
            outputs.append(y)
        if len(run_on) < len(vectors):
            scale = len(vectors) / len(run_on)
            cycles = round(cycles * scale)
            counts = {n: round(v * scale) for n, v in counts.items()}
            counts["vectors_simulated"] = len(run_on)
            outputs = [None]
        if outputs[0] is None:
            y = None
        elif run is not None:
            y = run.fold(np.stack(outputs))
        else:
            y = np.stack(outputs) if np.ndim(layer.activations) == 2 else outputs[0]
        return self._result(eie, vectors, cycles, counts, y)

    def _vectors(self, layer: Layer, enc: EIEFormat) -> np.ndarray:
        """The activation vectors (N, inputs) of a layer given as an EIE encoding."""
        n = enc.matrix_shape[1] - int(enc.bias_column)
        if layer.activations is None:
            return random_activations(n, layer.act_density, layer.seed)[None]
        a = as_float32(layer.activations, "activations")
        if a.ndim not in (1, 2) or a.shape[-1] != n:
            raise ValueError(
                f"activations must be a vector of length {n} (the weight's inputs) or a batch "
                f"({n},) x N, got shape {a.shape}"
            )
        return a.reshape(-1, n)

    def _result(
        self, layer: EIELayer, acts: np.ndarray, cycles: int, counts: dict[str, int], y: Any
    ) -> SimResult:
        """Price-ready actions, EIE's two times and load-balance efficiency (SPEC 4.1), over
        the activation vectors ``acts`` (N, inputs) run one after the other."""
        # long: every access of the run priced in one place, in the order of SPEC 4.1's table
        p = layer.n_pe
        useful = counts["useful_macs"]
        entries = useful + counts["filler_entries"]
        groups = len(acts) * (-(-layer.n_inputs // p) + int(layer.has_bias))
        words = {  # 32-bit words per access (SPEC 4: memories are priced per 32-bit word)
            "activation": 16 / 32, "pointer_pair": 2 * layer.pointer_bits / 32,
            "line": self.sram_width / 32,
            "queue_entry": 32 / 32, "accumulator": 16 / 32, "codebook": 16 / 32,
        }
        sram_reads = {
            "weights": counts["weight_line_reads"] * words["line"],
            "pointers": counts["pointer_reads"] * words["pointer_pair"],
            "activations": groups * p * words["activation"],
        }
        rf_reads = {
            "queue": counts["pointer_reads"] * words["queue_entry"],
            "codebook": entries * words["codebook"],
            "accumulator": (useful - counts["bypasses"]) * words["accumulator"],
        }
        rf_writes = {
            "queue": counts["broadcasts"] * p * words["queue_entry"],
            "accumulator": useful * words["accumulator"],
        }
        # per-PE SRAMs as published (SPEC 4.1: weights 128 KB, pointers 32 KB in two banks,
        # activations 2 KB); queue, codebook and accumulators are registers
        storage = {
            "weight_sram": Storage("sram", 128 * 1024, self.sram_width, sram_reads["weights"]),
            "pointer_sram": Storage("sram", 16 * 1024, layer.pointer_bits, sram_reads["pointers"]),
            "activation_sram": Storage("sram", 2 * 1024, 16, sram_reads["activations"]),
            "registers": Storage("rf", 64, 32, sum(rf_reads.values()), sum(rf_writes.values())),
        }
        actions = {
            INT16_MUL: float(useful),
            INT16_ADD: float(useful),
            INT8_ADD: float(entries),  # row-address adder, one per entry
            SRAM_READ: sum(sram_reads.values()),
            RF_READ: sum(rf_reads.values()),
            RF_WRITE: sum(rf_writes.values()),
        }
        theoretical = entries / p
        extras: dict[str, Any] = {
            "mode": self.mode,
            "n_pe": p,
            "fifo_depth": self.fifo_depth,
            "actual_time_s": cycles / self.clock_hz,
            "theoretical_time_s": theoretical / self.clock_hz,
            "theoretical_cycles": theoretical,
            "load_balance_efficiency": useful / (cycles * p),
            "weight_density": input_weights(layer) / max(layer.n_rows * layer.n_inputs, 1),
            "activation_density": float((acts != 0).mean()) if acts.size else 0.0,
            **{k: v for k, v in counts.items()},
            **{f"sram_read_words_{k}": v for k, v in sram_reads.items()},
            **{f"rf_read_words_{k}": v for k, v in rf_reads.items()},
            **{f"rf_write_words_{k}": v for k, v in rf_writes.items()},
        }
        return SimResult(
            accel=self.name,
            cycles=float(cycles),
            clock_hz=self.clock_hz,
            actions=actions,
            traffic_bytes={
                "sram": 4 * actions[SRAM_READ],
                "rf": 4 * (actions[RF_READ] + actions[RF_WRITE]),
            },
            utilization=useful / (cycles * p),
            extras=extras,
            outputs=y,
            storage=storage,
        )

