"""Sparse kernels that run on encoded weights (CPU: numba; GPU: Triton): the products and what
builds them. Models that use them are :mod:`sparsegrain.deploy`'s."""

from ..core.registry import import_members
from .base import KERNELS, SparseKernel
from .build import kernel_for
from .conv import conv2d
from .tuning import TILES

import_members(__name__, __path__)  # every module registers its members

__all__ = ["KERNELS", "TILES", "SparseKernel", "conv2d", "kernel_for"]
