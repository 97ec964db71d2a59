"""Sparse kernels that run on encoded weights (CPU: numba; GPU: Triton) and drop-in modules."""

from ..core.registry import import_members
from .base import KERNELS, TILES, SparseKernel
from .conv import conv2d
from .sparsify import LayerChoice, SparseConv2d, SparseLinear, kernel_for, sparsify

import_members(__name__, __path__)  # every module registers its members

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
