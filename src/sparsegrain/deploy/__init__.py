"""Sparse models deployed: ``sparsify`` swaps pruned layers for sparse-kernel ones, reached
through the ``sparsegrain::linear`` operator (so models compile and export), timed and cached per
layer; ``save`` / ``load`` keep them in their encoded form."""

from .recurrent import SparseRNN
from .saving import load, save
from .sparsify import LayerChoice, SparseConv1d, SparseConv2d, SparseLinear, sparsify

__all__ = ["LayerChoice", "SparseConv1d", "SparseConv2d", "SparseLinear", "SparseRNN", "load", "save",
           "sparsify"]
