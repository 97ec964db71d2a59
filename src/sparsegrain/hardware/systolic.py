"""Dense systolic array, weight- or output-stationary: the dense reference for sparse models.

Timing as in SCALE-Sim (Samajdar et al., ISPASS 2020) for a GEMM Y (N x M) = W (N x K) X (K x M)
on an R x C array, folds run back to back without overlap:

- weight-stationary: R x C weight tiles (K on rows, N on columns), ceil(K/R) * ceil(N/C) folds,
  each R cycles to load the weights, then M input rows streamed with (R-1) + (C-1) skew;
- output-stationary: R x C output tiles (M on rows, N on columns), ceil(M/R) * ceil(N/C) folds,
  each K cycles of streamed operands plus (R-1) + (C-1) skew.
"""

from __future__ import annotations

import math

from .base import Accelerator, SimResult, register
from .dense import Gemm, check_positive, check_precision, dense_result
from .layers import Layer

DATAFLOWS = ("ws", "os")


def fold_cycles(g: Gemm, rows: int, cols: int, dataflow: str) -> tuple[int, int]:
    """(folds, cycles per fold) of ``g`` on a ``rows`` x ``cols`` array."""
    if dataflow == "ws":
        return math.ceil(g.k / rows) * math.ceil(g.n / cols), rows + g.m + rows + cols - 2
    return math.ceil(g.m / rows) * math.ceil(g.n / cols), g.k + rows + cols - 2


@register("systolic")
class Systolic(Accelerator):
    """Dense systolic array (weight- or output-stationary), SCALE-Sim timing."""

    summary = "dense R x C systolic array, weight- or output-stationary"

    def __init__(
        self, rows: int = 32, cols: int = 32, dataflow: str = "ws", clock_hz: float = 1e9,
        precision: str = "int16",
    ) -> None:
        """An R x C array of MACs at ``precision`` (an energy-table operation prefix)."""
        self.rows = check_positive("rows", rows)
        self.cols = check_positive("cols", cols)
        if dataflow not in DATAFLOWS:
            raise ValueError(f"dataflow must be one of {', '.join(DATAFLOWS)}, got {dataflow!r}")
        if clock_hz <= 0:
            raise ValueError(f"clock_hz must be > 0, got {clock_hz!r}")
        check_precision(precision)
        self.dataflow, self.clock_hz, self.precision = dataflow, float(clock_hz), precision

    def _run(self, layer: Layer) -> SimResult:
        g = Gemm.of(layer)
        folds, per_fold = fold_cycles(g, self.rows, self.cols, self.dataflow)
        col_folds = math.ceil(g.n / self.cols)
        if self.dataflow == "ws":
            k_folds = math.ceil(g.k / self.rows)
            sram = {  # each weight once; inputs once per column fold; partial sums per K fold
                "weights": g.n * g.k,
                "inputs": g.k * g.m * col_folds,
                "psum_reads": g.n * g.m * (k_folds - 1),
                "psum_writes": g.n * g.m * k_folds,
            }
        else:
            sram = {  # inputs once per column fold, weights once per row fold, outputs once
                "weights": g.n * g.k * math.ceil(g.m / self.rows),
                "inputs": g.k * g.m * col_folds,
                "output_writes": g.n * g.m,
            }
        rf = {"operands": 2 * g.macs, "accumulator_writes": g.macs}
        return dense_result(
            self.name, g, folds * per_fold, self.rows * self.cols, self.clock_hz, self.precision,
            sram, rf, {"dataflow": self.dataflow, "folds": folds, "cycles_per_fold": per_fold,
                       "array": [self.rows, self.cols]},
        )
