"""The CPU kernels as a torch custom operator, so that sparse models run under ``torch.compile``
and ``torch.export``.

``sparsegrain::linear(x, kernel)`` multiplies a (batch, cols) float32 input by the weight of the
live kernel numbered ``kernel`` (``x @ W.T``). A number rather than tensors names the weight
because every format has its own arrays; compiled graphs hold it as a constant. The fake
implementation gives the output's shape, so tracing never runs a kernel.
"""

from __future__ import annotations

import itertools
import weakref

import torch

from ..kernels import SparseKernel

_LIVE: weakref.WeakValueDictionary[int, SparseKernel] = weakref.WeakValueDictionary()
_NUMBERS = itertools.count()


def number(kernel: SparseKernel) -> int:
    """A new number naming ``kernel`` for the operator, valid while the kernel lives."""
    n = next(_NUMBERS)
    _LIVE[n] = kernel
    return n


def live(n: int) -> SparseKernel:
    """The kernel numbered ``n``, or a ValueError when it is gone."""
    try:
        return _LIVE[n]
    except KeyError:
        raise ValueError(f"no live sparse kernel numbered {n}: the layer that held it was "
                         "deleted; run the model it belongs to") from None


@torch.library.custom_op("sparsegrain::linear", mutates_args=())
def linear(x: torch.Tensor, kernel: int) -> torch.Tensor:
    """``x @ W.T`` (float32, contiguous) for the live kernel numbered ``kernel``."""
    return live(kernel).linear(x).contiguous()


@linear.register_fake
def _linear_shape(x: torch.Tensor, kernel: int) -> torch.Tensor:
    return x.new_empty((x.shape[0], live(kernel).shape[0]), dtype=torch.float32)


def _inference_only(ctx: object, grad: torch.Tensor) -> tuple[None, None]:
    raise RuntimeError("sparsegrain's sparse layers are inference-only: no gradient flows "
                       "through them; fine-tune the dense model (sparsegrain.prune), then sparsify")


def _keep_nothing(ctx: object, inputs: tuple, output: torch.Tensor) -> None:
    return None


linear.register_autograd(_inference_only, setup_context=_keep_nothing)


def eager(x: torch.Tensor) -> bool:
    """Is this call plain Python, where the kernel may be called directly? Not while
    ``torch.compile``, ``torch.export`` or a JIT trace records the graph (they need the
    operator), nor where a gradient is asked of the input (the operator says the layer is
    inference-only)."""
    return not (torch.compiler.is_compiling() or torch.jit.is_tracing()
                or (x.requires_grad and torch.is_grad_enabled()))


def multiply(kernel: SparseKernel, n: int, x: torch.Tensor) -> torch.Tensor:
    """x (rows, cols) @ W.T as a new float32 tensor, for ``kernel`` numbered ``n``: the kernel
    called directly in eager code (one row straight to its vector product), the operator where
    a graph is recorded or a gradient asked for."""
    if eager(x):
        x = x.detach()
        if x.shape[0] == 1 and x.dtype is torch.float32:
            return torch.from_numpy(kernel.row_product(x.numpy()[0])).unsqueeze(0)
        return kernel.linear(x.float())
    return torch.ops.sparsegrain.linear(x.float(), n)
