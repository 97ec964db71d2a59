"""Accelerator models: cycles, traffic and energy of real layers (SPEC section 4)."""

from ..core.registry import import_members
from .base import (
    ACCELERATORS,
    Accelerator,
    EnergyTable,
    SimResult,
    Unsupported,
    build,
    price,
    register,
)
from .layers import Layer
from .machines import Machine, simulate

import_members(__name__, __path__)  # every module registers its members

__all__ = [
    "ACCELERATORS", "Accelerator", "EnergyTable", "Layer", "Machine", "SimResult", "Unsupported",
    "build", "price", "register", "simulate",
]
