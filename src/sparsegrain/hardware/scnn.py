"""SCNN (Parashar et al., ISCA 2017; SPEC 4.2): planar-tiled, input-stationary Cartesian product.

The input plane is tiled over a ``pe_rows`` x ``pe_cols`` grid of PEs (each holds all channels of
its tile). Output channels go in groups of Kc, as many as the accumulator holds for one tile.
For every (group, input channel) a PE multiplies each vector of F nonzero weights (order k, r, s)
by each vector of I nonzero activations of its tile (order y, x): F x I products per step, each
sent through a crossbar to one of A accumulator banks (bank = output address mod A). Products
falling on the same output within a step are summed before the crossbar (``merge=True``; this is
what lets vector-level sparsity along the kernel width save accumulator references); a step then
takes as many cycles as the busiest bank has distinct outputs (crossbar contention, at least 1).
PEs wait for each other at the end of every output-channel group. Products that land outside the
output (stride, borders) are still multiplied, as in SCNN.

A **memory reference** is one read or write of one element (a value, an index, or a partial sum)
in a PE's buffers, counted by kind:

- ``weight_values``: each nonzero weight of a PE's channel that has a nonzero activation;
- ``weight_indices``: one 4-bit index per weight group in the same slices (the index-saving effect:
  per element for unstructured masks, per kernel row for vector masks, per kernel for kernel and
  filter masks; ``index_group="auto"`` detects the coarsest that the mask obeys);
- ``weight_values`` and ``weight_indices`` are read again for every I-vector of activations the
  PE holds, and ``activation_values`` and ``activation_indices`` once each per output-channel
  group: input stationary, SCNN's order (the activation vector stays at the multipliers while
  the channel's weight vectors stream past). ``stationary="weight"`` swaps the roles (weights
  read once, activations once per weight vector), for comparison;
- ``accumulator_rmw``: one read-modify-write of a partial sum per distinct output per step; with
  ``reduce_groups=True``, per distinct output of each weight group (a kernel row for vector
  masks, a kernel for kernel and filter masks, the groups ``index_group`` finds) against the
  PE's activations: the group's products are summed in the multiplier array's adder tree before
  they reach the accumulators (Mao et al., arXiv 1705.08922: coarse groups let products be
  reduced before the accumulator), so a kernel-level group updates each of its outputs once;
  element-level (unstructured) masks have no group to reduce and keep the step's merging;
- ``halo_exchanges``: partial sums a PE accumulated for outputs outside its own output tile
  (products of activations near its tile's edge with off-centre taps), one per distinct such
  output per output-channel group, sent to the neighbour that owns it and added there (SCNN's
  output halos); priced as a read at the sender and a read-modify-write at the receiver;
- ``output_writes``: the drained accumulators, one per output element;
- DRAM words (compressed weights, inputs and outputs once), reported apart.

Buffers, per PE (priced by size, :mod:`.storage`; capacities are choices derived from the layer
and the machine, as SCNN sizes its RAMs for its benchmark layers): a weight buffer holding one
output-channel group's compressed weights, read F values (and indices) at a time; an input
activation RAM holding the PE's tile of every channel, read I at a time; the accumulator, split
into A banks of ``acc_entries / A`` partial sums, one partial sum per access; an output RAM
holding the tile's outputs of every output channel.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from .actions import DRAM_READ, DRAM_WRITE, INT16_MUL, INT32_ADD, SRAM_READ, SRAM_WRITE
from .base import Accelerator, SimResult, register
from .layers import Layer
from .storage import Storage

INDEX_GROUPS = ("auto", "element", "vector", "kernel")
STATIONARY = ("input", "weight")
REFERENCE_KINDS = ("weight_values", "weight_indices", "activation_values", "activation_indices",
                   "accumulator_rmw", "halo_exchanges", "output_writes")


@njit(inline="always")
def output_at(y, x, r, s, pad, stride, ho, wo):  # pragma: no cover - numba
    """The output (row, column) that activation (y, x) times weight tap (r, s) lands on, or
    (-1, -1) where it falls outside the output or between strided positions."""
    oy, ox = y + pad - r, x + pad - s
    if oy < 0 or ox < 0 or (stride > 1 and (oy % stride or ox % stride)):
        return -1, -1
    oy //= stride
    ox //= stride
    if oy >= ho or ox >= wo:
        return -1, -1
    return oy, ox


@njit(cache=True)
def _scnn(x, w_k, w_r, w_s, w_v, ptr, idx_count, k_groups, ho, wo, stride, pad,
          grid_r, grid_c, f_vec, i_vec, banks, merge, group_of, reduce,
          input_stationary, keep_zeros):  # pragma: no cover - numba
    """Run the layer; returns outputs, cycles, per-kind reference counts, products. With
    ``reduce``, accumulator updates are the distinct outputs of each run of entries that share
    ``group_of`` (contiguous: entries are sorted by channel, filter, row, column). The buffer
    reads follow the operand held: ``input_stationary`` (SCNN) re-reads the weights for every
    activation vector, otherwise the activations for every weight vector."""
    n_img, n_c, h, wd = x.shape
    out = np.zeros((n_img, ptr.shape[1] - 1, ho, wo))
    weights, geo = (w_k, w_r, w_s, w_v), (pad, stride, ho, wo)
    th = (h + grid_r - 1) // grid_r
    tw = (wd + grid_c - 1) // grid_c
    tile = (np.empty(th * tw, np.int64), np.empty(th * tw, np.int64), np.empty(th * tw))
    keys = np.empty(f_vec * i_vec, np.int64)
    bank_n = np.zeros(banks, np.int64)
    refs = np.zeros(6, np.int64)  # w values, w indices, a values, a indices, acc rmw, halos
    seen = np.zeros(out[0].size, np.int64)  # stamp of the last group that touched an output
    halo_seen = np.zeros(out[0].size, np.int64)  # stamp of the last (group, PE) sending it
    tho, two = (ho + grid_r - 1) // grid_r, (wo + grid_c - 1) // grid_c  # output tile
    pe_cyc = np.zeros(grid_r * grid_c, np.int64)
    cycles = products = valid = stamp = 0
    for n in range(n_img):
        for g in range(k_groups.size - 1):
            k0, k1 = k_groups[g], k_groups[g + 1]
            pe_cyc[:] = 0
            group_idx = idx_count[k0:k1].sum(axis=0)  # each channel's weight indices
            for pe in range(pe_cyc.size):  # PEs work in parallel: the slowest sets the pace
                for c in range(n_c):
                    e0, e1 = ptr[c, k0], ptr[c, k1]
                    if e1 == e0:
                        continue
                    n_idx = group_idx[c]
                    na = _gather_tile(x[n, c], (pe // grid_c) * th, (pe % grid_c) * tw, th, tw,
                                      tile, keep_zeros)
                    if na == 0:
                        continue
                    if input_stationary:  # each I-vector held; every weight streams past it
                        n_av = (na + i_vec - 1) // i_vec
                        refs[0] += (e1 - e0) * n_av
                        refs[1] += n_idx * n_av
                        refs[2] += na
                        refs[3] += na
                    else:  # each F-vector held; the activations stream past it
                        n_wv = (e1 - e0 + f_vec - 1) // f_vec
                        refs[0] += e1 - e0
                        refs[1] += n_idx
                        refs[2] += n_wv * na
                        refs[3] += n_wv * na
                    own = ((pe // grid_c) * tho, (pe % grid_c) * two, tho, two,
                           ((n * (k_groups.size - 1) + g) * pe_cyc.size + pe) + 1)
                    cyc, pe_products, pe_valid, rmw, halo = _cartesian_product(
                        out[n], e0, e1, na, tile, weights, geo, f_vec, i_vec, merge, keys, bank_n,
                        own, halo_seen)
                    refs[5] += halo
                    pe_cyc[pe] += cyc
                    products += pe_products
                    valid += pe_valid
                    if reduce:
                        rmw, stamp = _group_updates(e0, e1, na, tile, weights, geo, group_of,
                                                    seen, stamp)
                    refs[4] += rmw
            cycles += pe_cyc.max()
    return out, cycles, refs, products, valid


@njit(inline="always")
def _gather_tile(plane, y0, x0, th, tw, tile, keep_zeros):  # pragma: no cover - numba
    """Collect the nonzero activations (every one with ``keep_zeros``) of the ``th`` x ``tw``
    tile at (y0, x0) of one channel's ``plane`` into ``tile`` (rows, columns, values; order y,
    x); returns how many."""
    ay, ax, av = tile
    na = 0
    for y in range(y0, min(y0 + th, plane.shape[0])):
        for xx in range(x0, min(x0 + tw, plane.shape[1])):
            if keep_zeros or plane[y, xx] != 0.0:
                ay[na] = y
                ax[na] = xx
                av[na] = plane[y, xx]
                na += 1
    return na


@njit(inline="always")
def _cartesian_product(out_n, e0, e1, na, tile, weights, geo, f_vec, i_vec, merge, keys,
                       bank_n, own, halo_seen):  # pragma: no cover - numba
    """One PE's work on one channel: every F-vector of weight entries e0..e1 times every
    I-vector of its ``na`` activations, summed into ``out_n``. Returns its cycles, products,
    products that land on an output, accumulator updates (each step's distinct outputs, or
    every output a product lands on without ``merge``) and the halo outputs it touched for the
    first time in this group: outputs outside its own tile ``own`` (row, column, height, width,
    and the (group, PE) stamp marking ``halo_seen``), whose partial sums go to a neighbour."""
    ay, ax, av = tile
    w_k, w_r, w_s, w_v = weights
    pad, stride, ho, wo = geo
    oy0, ox0, tho, two, pe_stamp = own
    cycles = valid = updates = halo = 0
    for wb in range(e0, e1, f_vec):
        for ab in range(0, na, i_vec):
            nk = 0  # the outputs of this step, in ``keys``
            for e in range(wb, min(wb + f_vec, e1)):
                for a in range(ab, min(ab + i_vec, na)):
                    oy, ox = output_at(ay[a], ax[a], w_r[e], w_s[e], pad, stride, ho, wo)
                    if oy < 0:
                        continue
                    valid += 1
                    out_n[w_k[e], oy, ox] += w_v[e] * av[a]
                    key = (w_k[e] * ho + oy) * wo + ox
                    if (oy < oy0 or oy >= oy0 + tho or ox < ox0 or ox >= ox0 + two) and \
                            halo_seen[key] != pe_stamp:
                        halo_seen[key] = pe_stamp
                        halo += 1
                    if not (merge and _holds(keys, nk, key)):
                        keys[nk] = key
                        nk += 1
            updates += nk
            cycles += _busiest_bank(keys, nk, bank_n)
    return cycles, (e1 - e0) * na, valid, updates, halo


@njit(inline="always")
def _holds(keys, nk, key):  # pragma: no cover - numba
    """Whether ``key`` is among the first ``nk`` keys."""
    for q in range(nk):
        if keys[q] == key:
            return True
    return False


@njit(inline="always")
def _busiest_bank(keys, nk, bank_n):  # pragma: no cover - numba
    """The cycles of a step: the most of its ``nk`` outputs that share an accumulator bank
    (bank = output address mod the bank count; at least 1). ``bank_n`` is zero before and after."""
    banks = bank_n.size
    pow2 = (banks & (banks - 1)) == 0
    worst = 1
    for q in range(nk):
        b = keys[q] & (banks - 1) if pow2 else keys[q] % banks
        bank_n[b] += 1
        if bank_n[b] > worst:
            worst = bank_n[b]
    for q in range(nk):
        bank_n[keys[q] & (banks - 1) if pow2 else keys[q] % banks] = 0
    return worst


@njit(inline="always")
def _group_updates(e0, e1, na, tile, weights, geo, group_of, seen,
                   stamp):  # pragma: no cover - numba
    """Accumulator updates with ``reduce_groups``: the distinct outputs each run of entries
    sharing ``group_of`` reaches from the PE's ``na`` activations. ``seen`` holds the stamp of
    the last run that touched each output; returns the updates and the last stamp used."""
    ay, ax, _ = tile
    w_k, w_r, w_s, _ = weights
    pad, stride, ho, wo = geo
    updates = 0
    for e in range(e0, e1):
        if e == e0 or group_of[e] != group_of[e - 1]:
            stamp += 1
        for a in range(na):
            oy, ox = output_at(ay[a], ax[a], w_r[e], w_s[e], pad, stride, ho, wo)
            if oy < 0:
                continue
            key = (w_k[e] * ho + oy) * wo + ox
            if seen[key] != stamp:
                seen[key] = stamp
                updates += 1
    return updates, stamp


def group_kind(mask: np.ndarray, kind: str) -> str:
    """The weight grouping a mask obeys: ``kind``, or with ``auto`` the coarsest of kernel
    (whole kernels kept or pruned), vector (whole kernel rows) and element."""
    if kind != "auto":
        return kind
    full_row = mask.all(axis=3) == mask.any(axis=3)
    full_kernel = mask.all(axis=(2, 3)) == mask.any(axis=(2, 3))
    return "kernel" if full_kernel.all() else "vector" if full_row.all() else "element"


def index_groups(mask: np.ndarray, kind: str) -> np.ndarray:
    """Weight indices per kernel (k, c): one per element, per kept kernel row, or per kept kernel."""
    kind = group_kind(mask, kind)
    if kind == "kernel":
        return mask.any(axis=(2, 3)).astype(np.int64)
    if kind == "vector":
        return mask.any(axis=3).sum(axis=2).astype(np.int64)
    return mask.sum(axis=(2, 3)).astype(np.int64)


@register("scnn")
class SCNN(Accelerator):
    """8x8 PEs of 4x4 multipliers, input-stationary Cartesian product, 32 accumulator banks."""

    summary = "SCNN: 8x8 PEs x 4x4 multipliers, Cartesian product, banked accumulators, refs by kind"

    def __init__(self, pe_rows: int = 8, pe_cols: int = 8, f: int = 4, i: int = 4, banks: int = 32,
                 acc_entries: int = 2048, merge: bool = True, index_group: str = "auto",
                 value_bits: int = 16, index_bits: int = 4, psum_bits: int = 24,
                 clock_hz: float = 1e9, reduce_groups: bool = False,
                 stationary: str = "input", dense: bool = False) -> None:
        """Defaults from SCNN (ISCA 2017): 64 PEs, F = I = 4, A = 32 banks, 16-bit values with
        4-bit zero-run indices, 24-bit partial sums, 1 GHz; ``acc_entries`` (choice: 2,048
        partial sums, 6 KB per PE) bounds the output-channel group Kc; ``reduce_groups`` sums
        a weight group's products before the accumulators (off: SCNN as published);
        ``stationary``: the operand a PE holds while the other streams past, ``input`` as SCNN
        (section IV: an activation vector stays while weight vectors are fetched) or ``weight``;
        ``dense``: the same machine without sparsity support, SCNN's dense comparison point
        (DCNN, section V): every weight and activation, zeros too, multiplied and stored
        uncompressed, with no indices."""
        if index_group not in INDEX_GROUPS:
            raise ValueError(f"unknown index_group {index_group!r}; valid: {', '.join(INDEX_GROUPS)}")
        if stationary not in STATIONARY:
            raise ValueError(f"unknown stationary {stationary!r}; valid: {', '.join(STATIONARY)}")
        self.stationary = stationary
        if min(pe_rows, pe_cols, f, i, banks, acc_entries) < 1:
            raise ValueError("SCNN sizes (PE grid, F, I, banks, acc_entries) must be >= 1")
        self.grid, self.f, self.i, self.banks = (pe_rows, pe_cols), f, i, banks
        self.acc_entries, self.merge, self.index_group = acc_entries, merge, index_group
        self.reduce_groups = reduce_groups
        self.dense = dense
        self.bits = dict(value=value_bits, index=0 if dense else index_bits, psum=psum_bits)
        self.clock_hz = clock_hz

    def _run(self, layer: Layer) -> SimResult:
        lay = layer.prepare()
        w, m, x = lay.weight, lay.mask, lay.x
        if lay.kind == "fc":  # an FC layer is a 1x1 convolution on a 1x1 input
            w, m, x = w[:, :, None, None], m[:, :, None, None], x[:, :, None, None]
        n_k, n_c, _, _ = w.shape
        ho, wo = (lay.out_shape[2], lay.out_shape[3]) if lay.kind == "conv" else (1, 1)
        _, _, h, wd = x.shape
        if self.dense:  # every weight goes through the multipliers, zeros too
            m = np.ones(m.shape, bool)
        kk, cc, rr, ss = np.nonzero(m)
        order = np.lexsort((ss, rr, kk, cc))
        kk, cc, rr, ss = kk[order], cc[order], rr[order], ss[order]
        # ptr[c, k]: first entry of channel c with filter >= k (entries sorted by c, k, r, s)
        starts = np.arange(n_c)[:, None] * n_k + np.arange(n_k + 1)[None, :]
        ptr = np.searchsorted(cc * n_k + kk, starts).astype(np.int64)
        tile = math.ceil(h / self.grid[0]) * math.ceil(wd / self.grid[1])
        kc = max(1, min(n_k, self.acc_entries // tile))
        k_groups = np.r_[np.arange(0, n_k, kc), n_k].astype(np.int64)
        kind = group_kind(m, self.index_group)
        idx = index_groups(m, kind) * (not self.dense)  # a dense machine stores no indices
        # a run label per entry: its kernel, its kernel row, or itself
        group_of = {"kernel": cc * n_k + kk, "vector": (cc * n_k + kk) * w.shape[2] + rr,
                    "element": np.arange(kk.size)}[kind].astype(np.int64)
        out, cycles, refs, products, valid = _scnn(
            x.astype(np.float64), kk.astype(np.int64), rr.astype(np.int64), ss.astype(np.int64),
            w[kk, cc, rr, ss].astype(np.float64), ptr, np.ascontiguousarray(idx), k_groups,
            ho, wo, lay.stride, lay.padding, self.grid[0], self.grid[1], self.f, self.i, self.banks,
            self.merge, group_of, self.reduce_groups and kind != "element" and not self.dense,
            self.stationary == "input", self.dense)
        return self._result(lay, int(cycles), refs, int(products), int(valid), kc, m, x, out, tile,
                            int(idx.sum()))

    def _result(self, lay: Any, cycles: int, refs: np.ndarray, products: int, valid: int, kc: int,
                m: np.ndarray, x: np.ndarray, y: np.ndarray, tile: int, n_idx: int) -> SimResult:
        b = self.bits
        n_out = int(np.prod(lay.out_shape))
        by_kind = dict(zip(REFERENCE_KINDS, [int(r) for r in refs] + [n_out]))
        nnz_w, nnz_x = int(m.sum()), int(x.size if self.dense else np.count_nonzero(x))
        if self.dense:  # values only: no index travels with them
            by_kind["activation_indices"] = 0
        words = lambda n, bits: n * bits / 32  # noqa: E731 - element counts to 32-bit words
        dram_read = words(nnz_w, b["value"]) + words(n_idx, b["index"]) + words(nnz_x, b["value"] + b["index"])
        dram_write = words(int(np.count_nonzero(y)), b["value"] + b["index"])
        actions = {
            SRAM_READ: words(by_kind["weight_values"], b["value"]) + words(by_kind["weight_indices"], b["index"])
            + words(by_kind["activation_values"], b["value"]) + words(by_kind["activation_indices"], b["index"])
            + words(by_kind["accumulator_rmw"] + 2 * by_kind["halo_exchanges"], b["psum"]),
            SRAM_WRITE: words(by_kind["accumulator_rmw"] + by_kind["halo_exchanges"], b["psum"])
            + words(n_out, b["value"] + b["index"]),
            INT16_MUL: products,
            INT32_ADD: valid,
            DRAM_READ: dram_read,
            DRAM_WRITE: dram_write,
        }
        n_k, n_c = m.shape[:2]
        entry = b["value"] + b["index"]
        w_words = words(by_kind["weight_values"], b["value"]) + words(by_kind["weight_indices"], b["index"])
        a_words = words(by_kind["activation_values"], b["value"]) + words(by_kind["activation_indices"], b["index"])
        acc_words = words(by_kind["accumulator_rmw"] + by_kind["halo_exchanges"], b["psum"])
        storage = {
            "weight_buffer": Storage("sram", max(1.0, (nnz_w * b["value"] + n_idx * b["index"])
                                                 * kc / n_k / 8), self.f * entry, w_words),
            "activation_ram": Storage("sram", tile * n_c * entry / 8, self.i * entry, a_words),
            "accumulator_banks": Storage("sram", self.acc_entries * b["psum"] / 8 / self.banks,
                                         b["psum"], acc_words + words(by_kind["halo_exchanges"],
                                                                      b["psum"]), acc_words),
            "output_ram": Storage("sram", tile * n_k * entry / 8, self.i * entry, 0.0,
                                  words(n_out, entry)),
        }
        multipliers = self.grid[0] * self.grid[1] * self.f * self.i
        extras: dict[str, Any] = {f"refs_{k}": v for k, v in by_kind.items()}
        extras.update(refs_total=sum(by_kind.values()), refs_dram_words=dram_read + dram_write,
                      products=products, useful_products=valid, kc=kc, useful_macs=valid,
                      weight_index_groups=n_idx)
        return SimResult(
            accel=self.name, cycles=cycles, clock_hz=self.clock_hz, actions=actions,
            traffic_bytes={"dram": (dram_read + dram_write) * 4,
                           "sram": (actions[SRAM_READ] + actions[SRAM_WRITE]) * 4},
            utilization=valid / (cycles * multipliers) if cycles else 0.0,
            extras=extras, outputs=y.reshape(lay.user_shape), storage=storage,
        )
