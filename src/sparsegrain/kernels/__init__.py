"""Sparse kernels that run on encoded weights (CPU: numba; GPU: Triton) and drop-in modules."""

from . import bcsr, csp, csr, gs, nm  # noqa: F401  (modules register their kernels)
from .base import KERNELS, TILES, SparseKernel
from .conv import conv2d
from .sparsify import LayerChoice, SparseConv2d, SparseLinear, kernel_for, sparsify

__all__ = [
    "KERNELS",
    "TILES",
    "LayerChoice",
    "SparseConv2d",
    "SparseKernel",
    "SparseLinear",
    "conv2d",
    "kernel_for",
    "sparsify",
]
