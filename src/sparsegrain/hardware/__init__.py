"""Accelerator models: cycles, traffic and energy of real layers (SPEC section 4)."""

from . import csph, eie, gs, scnn, simd, sparten, systolic  # noqa: F401  (modules register their models)
from .base import (
    ACCELERATORS, Accelerator, EnergyTable, SimResult, Unsupported, build, price, register, simulate,
)
from .layers import Layer

__all__ = [
    "ACCELERATORS", "Accelerator", "EnergyTable", "Layer", "SimResult", "Unsupported", "build",
    "price", "register", "simulate",
]
