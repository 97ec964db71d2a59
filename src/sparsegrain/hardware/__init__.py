"""Accelerator models: cycles, traffic and energy of real layers (SPEC section 4)."""

from . import csph, gs, scnn, sparten  # noqa: F401 - registers the models
from .base import ACCELERATORS, Accelerator, EnergyTable, SimResult, price, register, simulate

__all__ = ["ACCELERATORS", "Accelerator", "EnergyTable", "SimResult", "price", "register", "simulate"]
