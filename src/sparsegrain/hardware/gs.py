"""The GS engine (Sun et al., arXiv 2112.10898; SPEC 4.5): a B-lane vector core with a banked
scratchpad and a gather engine, running one layer as W @ x for every lowered input column.

The dense input column sits in a scratchpad of ``spm_elems`` elements split into B banks (element
j in bank j mod B); weights stream from memory in the layout their pattern allows:

- ``gs``: rows in groups of R = B / E; each pack holds E entries of every row of the group in
  pairwise-distinct banks, as the GS format packs them (:mod:`sparsegrain.formats.gs`; a given
  GS encoding is read as stored): one value load, one index load, one gather, one FMA; a group ends with a store (E = 1, vertical) or a log2(E)-level reduction
  and a store (E > 1; E = B is the horizontal variant).
- ``unstructured``: the same vertical packs in CSR order, lane l taking the next entry of row l:
  a group needs as many packs as its longest row (lane imbalance) and a gather costs the largest
  number of its lanes that hit one bank (bank conflicts).
- ``block_bx1``: B-row x 1-column blocks: one value load, one scalar index load, one broadcast of
  x[col] and one FMA per block, no gather.
- ``block_1xb``: 1-row x B-column aligned blocks: a value load, a scalar index load, a contiguous
  (conflict-free) scratchpad load and an FMA per block; each row ends with a log2(B) reduction.
- ``dense``: every B x 1 block, no indices.

A block layout runs any mask (blocks with any nonzero are kept whole, zeros padded). Cycle costs
are per instruction of a single-issue in-order core (choice: each instruction 1 cycle, a gather
1 cycle per bank access round, no overlap), all parameters.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from numba import njit

from ..formats import Encoded, encode
from ..formats.gs import GSFormat
from ..patterns import pattern
from ..patterns.base import Geometry
from .actions import DRAM_READ, DRAM_WRITE, FP16_ADD, FP16_MUL, SRAM_READ, SRAM_WRITE
from .base import Accelerator, SimResult, register
from .layers import Layer, LayerRun
from .storage import GLOBAL_BUFFER_KIB, Storage

LAYOUTS = ("auto", "gs", "unstructured", "block_bx1", "block_1xb", "dense")


@njit(cache=True)
def _pack_in_order(indptr, cols, n_rows, lanes):  # pragma: no cover - numba
    """Vertical CSR packs: returns (packs per group, bank accesses per pack)."""
    n_groups = (n_rows + lanes - 1) // lanes
    packs = np.zeros(n_groups, np.int64)
    for g in range(n_groups):
        for r in range(g * lanes, min((g + 1) * lanes, n_rows)):
            packs[g] = max(packs[g], indptr[r + 1] - indptr[r])
    first = np.zeros(n_groups + 1, np.int64)
    first[1:] = np.cumsum(packs)
    hits = np.zeros((first[-1], lanes), np.int64)
    for r in range(n_rows):
        g = r // lanes
        for k in range(indptr[r], indptr[r + 1]):
            hits[first[g] + k - indptr[r], cols[k] % lanes] += 1
    worst = np.zeros(first[-1], np.int64)
    for p in range(first[-1]):
        worst[p] = hits[p].max()
    return packs, worst


def _csr(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.nonzero(mask)
    indptr = np.zeros(mask.shape[0] + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=mask.shape[0]), out=indptr[1:])
    return indptr, cols.astype(np.int64)


def _blocks(mask: np.ndarray, r: int, c: int) -> np.ndarray:
    """Which r x c tiles hold a nonzero (the mask padded to whole tiles)."""
    rows, cols = mask.shape
    m = np.pad(mask, ((0, -rows % r), (0, -cols % c)))
    return m.reshape(m.shape[0] // r, r, m.shape[1] // c, c).any(axis=(1, 3))


@register("gs")
class GSEngine(Accelerator):
    """B-lane vector core with a banked scratchpad and a gather engine (Sun et al.)."""

    summary = "GS engine: B-lane vector core, banked scratchpad, gather; GS/unstructured/block/dense"

    @classmethod
    def for_pattern(cls, geometry: Geometry) -> dict[str, Any] | None:
        """The lanes B and E of ``gs:B:E`` (SPEC 4.5)."""
        return None if geometry.gs is None else {"lanes": geometry.gs[0], "e": geometry.gs[1]}

    def __init__(self, lanes: int = 8, e: int = 1, layout: str = "auto", spm_elems: int = 32768,
                 value_bits: int = 16, index_bits: int = 16, clock_hz: float = 1e9,
                 load_cycles: int = 1, gather_cycles: int = 1, fma_cycles: int = 1,
                 store_cycles: int = 1, reduce_cycles: int = 1) -> None:
        """``lanes`` = B (8 fp16 lanes in the paper's runs), ``e`` = E nonzeros per row per pack,
        ``spm_elems`` = scratchpad size (32K elements, SPEC 4.5), 16-bit values and indices."""
        if lanes < 1 or e < 1 or lanes % e:
            raise ValueError(f"GS engine needs lanes >= 1 and e dividing lanes, got lanes={lanes}, e={e}")
        if layout not in LAYOUTS:
            raise ValueError(f"unknown GS-engine layout {layout!r}; valid: {', '.join(LAYOUTS)}")
        self.lanes, self.e, self.layout, self.spm_elems = lanes, e, layout, spm_elems
        self.value_bits, self.index_bits, self.clock_hz = value_bits, index_bits, clock_hz
        self.cost = dict(load=load_cycles, gather=gather_cycles, fma=fma_cycles, store=store_cycles,
                         reduce=reduce_cycles)

    def pick_layout(self, mask: np.ndarray) -> str:
        """The layout a mask runs in when ``layout='auto'``: the most regular one it obeys."""
        if self.layout != "auto":
            return self.layout
        b = self.lanes
        if mask.all():
            return "dense"
        if mask.shape[0] % b == 0 and np.array_equal(_blocks(mask, b, 1).repeat(b, 0)[: mask.shape[0]], mask):
            return "block_bx1"
        if mask.shape[1] % b == 0 and np.array_equal(_blocks(mask, 1, b).repeat(b, 1)[:, : mask.shape[1]], mask):
            return "block_1xb"
        if pattern(f"gs:{b}:{self.e}").violation(torch.from_numpy(mask)) is None:
            return "gs"
        return "unstructured"

    def declines(self, layer: Layer) -> str | None:
        """The scratchpad must hold one lowered input column; the ``gs`` layout runs the GS
        format's packs, so it needs a ``gs:B:E`` mask."""
        n_in = math.prod(layer.shape[1:])
        if n_in > self.spm_elems:
            return (f"the GS engine's scratchpad holds {self.spm_elems} elements; this layer's "
                    f"input column has {n_in} (raise spm_elems or split the layer)")
        if self.layout == "gs":
            spec = f"gs:{self.lanes}:{self.e}"
            violation = pattern(spec).violation(torch.from_numpy(layer.prepare().mask_matrix()))
            if violation is not None:
                return f"layout gs runs {spec} masks only ({violation}); use layout auto"
        return None

    def _run(self, layer: Layer) -> SimResult:
        lay = layer.prepare()
        w, mask = lay.matrix(), lay.mask_matrix()
        n_out, n_in = w.shape
        layout = self.pick_layout(mask)
        per_col, w_run = self._schedule(layout, w, mask, layer.encoded)
        x = lay.columns()
        n_cols = x.shape[0]
        y = x.astype(np.float64) @ w_run.T.astype(np.float64)
        return self._result(lay, layout, per_col, n_cols, n_in, n_out, int(mask.sum()), lay.fold(y))

    def packs(self, w: np.ndarray, mask: np.ndarray, encoded: Encoded | None) -> GSFormat:
        """The layer's GS packs: the given GS encoding when it is this engine's B and E, else
        the GS format's packing of the mask."""
        if isinstance(encoded, GSFormat) and (encoded.b, encoded.e) == (self.lanes, self.e):
            return encoded
        return encode(torch.from_numpy(w), "gs", mask=torch.from_numpy(mask), b=self.lanes,
                      e=self.e)

    def _schedule(self, layout: str, w: np.ndarray, mask: np.ndarray, encoded: Encoded | None
                  ) -> tuple[dict[str, float], np.ndarray]:
        """Per input column: instruction counts and cycles; and the weight matrix as stored."""
        b, c = self.lanes, self.cost
        n_out, n_in = w.shape
        if layout in ("gs", "unstructured"):
            if layout == "gs":  # one vector load, index load, conflict-free gather, FMA per pack
                e, enc = self.e, self.packs(w, mask, encoded)
                n_packs, n_groups = enc.values.shape[0], enc.n_groups
                worst = np.ones(n_packs, np.int64)
            else:
                e = 1
                indptr, cols = _csr(mask)
                packs, worst = _pack_in_order(indptr, cols, n_out, b)
                n_packs, n_groups = int(packs.sum()), packs.size
            gather_cycles = float(worst.sum()) * c["gather"]
            end = c["store"] + (math.ceil(math.log2(e)) * c["reduce"] if e > 1 else 0)
            stored = np.where(mask, w, np.float32(0))
            cycles = n_packs * (2 * c["load"] + c["fma"]) + gather_cycles + n_groups * end
            return dict(cycles=cycles, packs=n_packs, groups=n_groups, gathers=n_packs,
                        bank_conflicts=float(worst.sum() - np.count_nonzero(worst)),
                        lanes_issued=n_packs * b, value_elems=n_packs * b, index_elems=n_packs * b,
                        spm_reads=float(mask.sum())), stored
        if layout == "block_1xb":
            blocks = _blocks(mask, 1, b)
            n_blocks = int(blocks.sum())
            stored = np.where(blocks.repeat(b, 1)[:, :n_in], w, 0)
            red = math.ceil(math.log2(b)) * c["reduce"] if b > 1 else 0
            cycles = n_blocks * (3 * c["load"] + c["fma"]) + n_out * red + math.ceil(n_out / b) * c["store"]
            return dict(cycles=cycles, packs=n_blocks, groups=n_out, gathers=0, bank_conflicts=0,
                        lanes_issued=n_blocks * b, value_elems=n_blocks * b, index_elems=n_blocks,
                        spm_reads=n_blocks * b), stored
        dense = layout == "dense"
        blocks = np.ones((math.ceil(n_out / b), n_in), bool) if dense else _blocks(mask, b, 1)
        n_blocks, n_groups = int(blocks.sum()), blocks.shape[0]
        stored = w if dense else np.where(blocks.repeat(b, 0)[:n_out], w, 0)
        index_loads = 0 if dense else n_blocks
        cycles = (n_blocks * (c["load"] + c["gather"] + c["fma"]) + index_loads * c["load"]
                  + n_groups * c["store"])
        return dict(cycles=cycles, packs=n_blocks, groups=n_groups, gathers=0, bank_conflicts=0,
                    lanes_issued=n_blocks * b, value_elems=n_blocks * b, index_elems=index_loads,
                    spm_reads=n_blocks), stored

    def _result(self, lay: LayerRun, layout: str, s: dict[str, float], n_cols: int, n_in: int,
                n_out: int, nnz: int, y: np.ndarray) -> SimResult:
        word = 32.0
        vb, ib = self.value_bits / word, self.index_bits / word
        stream_words = s["value_elems"] * vb + s["index_elems"] * ib
        passes = math.ceil(n_cols / max(1, self.spm_elems // n_in))
        unique_inputs = lay.x.size
        actions = {
            DRAM_READ: stream_words * passes + unique_inputs * vb,
            DRAM_WRITE: n_out * n_cols * vb,
            SRAM_READ: (stream_words + s["spm_reads"] * vb) * n_cols,
            SRAM_WRITE: n_in * n_cols * vb + n_out * n_cols * vb,
            FP16_MUL: s["lanes_issued"] * n_cols,
            FP16_ADD: s["lanes_issued"] * n_cols,
        }
        cycles = s["cycles"] * n_cols
        useful = nnz * n_cols
        return SimResult(
            accel=self.name, cycles=cycles, clock_hz=self.clock_hz, actions=actions,
            traffic_bytes={"dram": (actions[DRAM_READ] + actions[DRAM_WRITE]) * 4,
                           "sram": (actions[SRAM_READ] + actions[SRAM_WRITE]) * 4},
            utilization=useful / (cycles * self.lanes) if cycles else 0.0,
            extras={"layout": layout, "lanes": self.lanes, "e": self.e, "columns": n_cols,
                    "packs": s["packs"] * n_cols, "gathers": s["gathers"] * n_cols,
                    "bank_conflicts": s["bank_conflicts"] * n_cols,
                    "lane_utilization": useful / (s["lanes_issued"] * n_cols) if s["lanes_issued"] else 0.0,
                    "useful_macs": useful, "weight_passes": passes},
            outputs=y,
            storage={  # the packs stream through the global buffer; x sits in B banks
                "global_buffer": Storage("sram", GLOBAL_BUFFER_KIB * 1024,
                                         self.lanes * self.value_bits,
                                         stream_words * n_cols, n_out * n_cols * vb),
                "scratchpad_banks": Storage("sram", self.spm_elems * self.value_bits / 8 / self.lanes,
                                            self.value_bits, s["spm_reads"] * vb * n_cols,
                                            n_in * n_cols * vb),
            },
        )
