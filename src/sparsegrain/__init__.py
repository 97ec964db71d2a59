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


def tradeoff(*args, **kwargs):  # noqa: ANN002, ANN003 - the signature is api.tradeoff's
    """``sparsegrain.api.tradeoff``: sweep a Workload, store and report it; returns the table
    and the report paths (imported on first use, so ``import sparsegrain`` stays light)."""
    from .api import tradeoff as run

    return run(*args, **kwargs)
