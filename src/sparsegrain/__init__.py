"""sparsegrain: hardware-aware sparsity for deep neural networks.

Pipeline: model -> pattern (mask) -> pruning -> format (encode) -> kernel / hardware model ->
results store -> report.
"""

from .formats import encode
from .hardware import simulate
from .patterns import Pattern, pattern
from .workloads import Workload

__version__ = "0.1.0"

__all__ = ["Pattern", "Workload", "__version__", "encode", "pattern", "simulate", "tradeoff"]


def __getattr__(name: str) -> object:
    """``sparsegrain.tradeoff`` is :func:`sparsegrain.api.tradeoff`, imported on first use so that
    ``import sparsegrain`` does not load pandas and the report."""
    if name == "tradeoff":
        from .api import tradeoff

        return tradeoff
    raise AttributeError(f"module 'sparsegrain' has no attribute {name!r}")
