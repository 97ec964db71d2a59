"""sparsegrain: hardware-aware sparsity for deep neural networks.

Pipeline: model -> pattern (mask) -> pruning -> format (encode) -> kernel / hardware model ->
results store -> report.
"""

from .formats import encode
from .hardware import simulate
from .patterns import Pattern, pattern
from .workloads import Workload

__version__ = "0.1.0"

__all__ = ["Pattern", "Workload", "__version__", "encode", "pattern", "simulate"]
