"""Storage components of a machine, and what an access to each costs given its size.

A model declares the buffers it uses as :class:`Storage` (kind, capacity, access width) and
counts words read and written per buffer; the totals per kind are its ``dram_*``, ``sram_*``
and ``rf_*`` actions. Priced ``flat``, every word of a kind costs the energy table's entry for
that kind, whatever the buffer's size. Priced ``sized``, an SRAM word costs what CACTI 7 gives for
an array of that capacity and access width at 45 nm (the node of the shipped Horowitz table;
``energy/cacti7_sram_45nm.yaml``, made by ``scripts/cacti_sram_table.py``), interpolated log-log
between the grid's points and held at its edges (256 B to 4 MiB; wider than 512 bits, the energy
per bit of a 512-bit access). Register files (a few words of flip-flops, which CACTI does not
model) and DRAM keep the table's per-word entry.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

#: how a storage access is priced: the table's entry per kind, or by capacity and width
MEMORY_MODELS = ("flat", "sized")
#: the global buffer of every model that has one (choice: one size for all, so that buffer
#: pricing never favours one machine; 512 KiB holds ResNet-50's largest compressed layer)
GLOBAL_BUFFER_KIB = 512
KINDS = ("rf", "sram", "dram")


@dataclass(frozen=True)
class Storage:
    """One buffer of a machine: ``kind`` rf/sram/dram, ``nbytes`` capacity, ``width_bits`` per
    access, and the 32-bit words the run read from and wrote to it."""

    kind: str
    nbytes: float
    width_bits: int
    reads: float = 0.0
    writes: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"storage kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.nbytes <= 0 or self.width_bits < 1:
            raise ValueError(f"storage needs a positive capacity and width, got {self.nbytes} B "
                             f"and {self.width_bits} bits")

    def scaled(self, factor: float) -> Storage:
        """The same buffer with ``factor`` times the capacity (for sensitivity studies)."""
        return Storage(self.kind, self.nbytes * factor, self.width_bits, self.reads, self.writes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@cache
def sram_grid() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The CACTI table as (log2 capacities, log2 widths, {op: log2 pJ per access}) with NaN
    where CACTI has no point."""
    text = (resources.files("sparsegrain.hardware") / "energy" / "cacti7_sram_45nm.yaml").read_text()
    points = np.array(yaml.safe_load(text)["points"], dtype=float)
    caps, widths = np.unique(points[:, 0]), np.unique(points[:, 1])
    grids = {op: np.full((len(caps), len(widths)), np.nan) for op in ("read", "write")}
    for b, w, r, wr, _ in points:
        i, j = np.searchsorted(caps, b), np.searchsorted(widths, w)
        grids["read"][i, j], grids["write"][i, j] = math.log2(r), math.log2(wr)
    return np.log2(caps), np.log2(widths), grids


def _along(xs: np.ndarray, ys: np.ndarray, x: float) -> float:
    """Linear interpolation of ys(xs) at x over the points that exist, held at the ends."""
    ok = ~np.isnan(ys)
    return float(np.interp(x, xs[ok], ys[ok]))


def sram_access_pj(nbytes: float, width_bits: int, op: str) -> float:
    """CACTI 7 energy (pJ) of one ``width_bits`` access to an SRAM of ``nbytes``, 45 nm."""
    caps, widths, grids = sram_grid()
    lc, lw = math.log2(max(nbytes, 1.0)), math.log2(max(width_bits, 1))
    per_width = np.array([_along(caps, grids[op][:, j], lc) for j in range(len(widths))])
    return 2.0 ** _along(widths, per_width, lw)


def word_pj(store: Storage, op: str, table_pj: dict[str, float], model: str) -> float:
    """Energy of one 32-bit word read or written at ``store`` under memory model ``model``."""
    if model not in MEMORY_MODELS:
        raise ValueError(f"memory model must be one of {', '.join(MEMORY_MODELS)}, got {model!r}")
    if model == "flat" or store.kind != "sram":
        return table_pj[f"{store.kind}_{op}"]
    # wider than the grid: the energy per bit of its widest access (bit lines and sense
    # amplifiers grow with the width)
    width = min(max(32, store.width_bits), 2 ** int(sram_grid()[1][-1]))
    return sram_access_pj(store.nbytes, width, op) * 32 / width
