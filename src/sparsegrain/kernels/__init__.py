"""Sparse kernels that run on encoded weights (CPU: numba; GPU: Triton) and drop-in modules."""

from . import bcsr, csp, csr, gs, nm  # noqa: F401  (modules register their kernels)
from .base import KERNELS, TILES, SparseKernel

__all__ = ["KERNELS", "TILES", "SparseKernel"]
