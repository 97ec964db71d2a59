"""Dense SIMD core: the dense reference of a vector processor without sparsity support.

One output's dot product at a time, ``lanes`` MACs per cycle, then a log2(lanes)-deep
reduction tree (pipelined: it adds its depth once, at the end of the layer).
"""

from __future__ import annotations

import math

from .base import Accelerator, SimResult, register
from .dense import Gemm, check_positive, check_precision, dense_result
from .layers import Layer


@register("simd")
class Simd(Accelerator):
    """Dense SIMD core with ``lanes`` MAC lanes."""

    summary = "dense SIMD core, lanes MACs per cycle"

    def __init__(self, lanes: int = 16, clock_hz: float = 1e9, precision: str = "int16") -> None:
        """``lanes`` MACs per cycle at ``precision`` (an energy-table operation prefix)."""
        self.lanes = check_positive("lanes", lanes)
        if clock_hz <= 0:
            raise ValueError(f"clock_hz must be > 0, got {clock_hz!r}")
        check_precision(precision)
        self.clock_hz, self.precision = float(clock_hz), precision

    def _run(self, layer: Layer) -> SimResult:
        g = Gemm.of(layer)
        vector_ops = g.n * g.m * math.ceil(g.k / self.lanes)
        cycles = vector_ops + math.ceil(math.log2(self.lanes))
        sram = {  # weight row and input column streamed per dot product, one write per output
            "weights": g.n * g.k * g.m,
            "inputs": g.n * g.k * g.m,
            "output_writes": g.n * g.m,
        }
        rf = {"operands": 2 * g.macs, "accumulator_writes": g.macs}
        return dense_result(
            self.name, g, cycles, self.lanes, self.clock_hz, self.precision, sram, rf,
            {"lanes": self.lanes, "vector_ops": vector_ops},
        )
