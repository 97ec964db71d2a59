"""What the dense baselines share: a layer as a GEMM and its operands' compulsory traffic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .actions import DRAM_READ, DRAM_WRITE, RF_READ, RF_WRITE, SRAM_READ, SRAM_WRITE, Action
from .base import SimResult
from .layers import Layer, LayerRun
from .storage import GLOBAL_BUFFER_KIB, Storage

#: operand type and bits of each precision a dense baseline may compute at
PRECISIONS: dict[str, tuple[str, int]] = {
    "int8": ("int", 8), "int16": ("int", 16), "fp16": ("fp", 16), "int32": ("int", 32),
    "fp32": ("fp", 32),
}


def check_precision(precision: str) -> int:
    """Bits of ``precision``, or a ValueError listing the valid ones."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return PRECISIONS[precision][1]


def check_positive(name: str, value: Any) -> int:
    """A positive integer parameter, or a ValueError naming it."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Gemm:
    """Y (N x M) = W (N x K) @ X (K x M): outputs N, reduction K, input columns M."""

    w: torch.Tensor
    x: torch.Tensor
    run: LayerRun

    @classmethod
    def of(cls, layer: Layer) -> Gemm:
        """A layer as the GEMM a dense array runs: FC as it is (M = the batch), a convolution
        lowered by im2col (M = samples x output positions)."""
        run = layer.prepare()
        return cls(torch.from_numpy(run.matrix()), torch.from_numpy(run.columns()).T, run)

    def outputs(self) -> np.ndarray:
        """The layer's outputs in the caller's shape."""
        return self.run.fold((self.x.T @ self.w.T).numpy())

    @property
    def n(self) -> int:
        return self.w.shape[0]

    @property
    def k(self) -> int:
        return self.w.shape[1]

    @property
    def m(self) -> int:
        return self.x.shape[1]

    @property
    def macs(self) -> int:
        return self.n * self.k * self.m


def dense_result(
    name: str, g: Gemm, cycles: int, peak_macs_per_cycle: int, clock_hz: float, precision: str,
    sram_values: dict[str, float], rf_values: dict[str, float], extras: dict[str, Any],
) -> SimResult:
    """A dense model's result: every MAC done, operands priced at ``precision``.

    DRAM holds the layer (weights, inputs, outputs move once: compulsory traffic); SRAM and
    register-file accesses are given in values and priced per 32-bit word, the SRAM ones at a
    global buffer of :data:`~.storage.GLOBAL_BUFFER_KIB` (128-bit accesses), the register-file
    ones at the PEs' operand registers.
    """
    bits = check_precision(precision)
    kind, word = PRECISIONS[precision][0], bits / 32
    dram = {"weights": g.n * g.k, "inputs": g.k * g.m, "outputs": g.n * g.m}
    sram_read = sum(v for k, v in sram_values.items() if not k.endswith("writes"))
    sram_write = sum(v for k, v in sram_values.items() if k.endswith("writes"))
    rf_read = sum(v for k, v in rf_values.items() if not k.endswith("writes"))
    rf_write = sum(v for k, v in rf_values.items() if k.endswith("writes"))
    actions = {
        Action(kind, "mul", bits): float(g.macs),
        Action(kind, "add", bits): float(g.macs),
        DRAM_READ: (dram["weights"] + dram["inputs"]) * word,
        DRAM_WRITE: dram["outputs"] * word,
        SRAM_READ: sram_read * word,
        SRAM_WRITE: sram_write * word,
        RF_READ: rf_read * word,
        RF_WRITE: rf_write * word,
    }
    bytes_per = 4 * word
    return SimResult(
        accel=name,
        cycles=float(cycles),
        clock_hz=clock_hz,
        actions=actions,
        traffic_bytes={
            "dram": sum(dram.values()) * bytes_per,
            "sram": (sram_read + sram_write) * bytes_per,
            "rf": (rf_read + rf_write) * bytes_per,
        },
        utilization=g.macs / (cycles * peak_macs_per_cycle),
        extras={"macs": g.macs, "gemm_nkm": [g.n, g.k, g.m], **extras,
                **{f"sram_values_{k}": v for k, v in sram_values.items()}},
        outputs=g.outputs(),
        storage={"global_buffer": Storage("sram", GLOBAL_BUFFER_KIB * 1024, 128,
                                          sram_read * word, sram_write * word),
                 "pe_registers": Storage("rf", 3 * bits / 8, bits, rf_read * word,
                                         rf_write * word)},
    )
