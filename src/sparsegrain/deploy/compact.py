"""Physically smaller dense layers: a mask that empties whole output channels (filter pruning,
block rows left without a block) or leaves whole input channels unread (channel pruning) is
deployed as a dense Linear/Conv1d/Conv2d of the kept sizes, on torch's own dense kernels.

The layer stays local: its input is gathered down to the channels it reads and its output
scattered back to the full width (an emptied output holds its bias alone), so the layers around
it keep their sizes. Removing the channels from the neighbours too, as a dependency graph over the
model would, saves the gather and the scatter and is not done here.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def kept_channels(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the output channels holding a kept weight and of the input channels some kept
    weight reads, for a Linear (out, in) or convolution (out, in, *kernel) mask."""
    kept = mask.bool()
    outputs = kept.reshape(kept.shape[0], -1).any(1)
    inputs = kept.transpose(0, 1).reshape(kept.shape[1], -1).any(1)
    return outputs.nonzero().flatten(), inputs.nonzero().flatten()


def shrinks(mask: torch.Tensor) -> bool:
    """Does the mask empty a whole output channel or leave an input channel unread?"""
    outputs, inputs = kept_channels(mask)
    return len(outputs) < mask.shape[0] or len(inputs) < mask.shape[1]


class CompactLayer(nn.Module):
    """A Linear, Conv1d or Conv2d run as the dense layer of its kept channels: ``x`` gathered to
    the input channels read, the smaller product, its outputs scattered into the full width."""

    def __init__(self, module: nn.Module, weight: torch.Tensor, mask: torch.Tensor) -> None:
        super().__init__()
        outputs, inputs = kept_channels(mask)
        self.linear = isinstance(module, nn.Linear)
        self.width, self.reads = int(weight.shape[0]), int(weight.shape[1])
        self.stride = getattr(module, "stride", None)
        self.padding = getattr(module, "padding", None)
        self.dilation = getattr(module, "dilation", None)
        small = weight.detach().float().index_select(0, outputs).index_select(1, inputs)
        self.register_buffer("weight", small.contiguous())
        bias = None if module.bias is None else module.bias.detach().float().clone()
        self.register_buffer("bias", bias)
        self.register_buffer("kept_bias", None if bias is None else bias[outputs].clone())
        every_input = len(inputs) == weight.shape[1]
        self.register_buffer("inputs", None if every_input else inputs)
        self.register_buffer("outputs", None if len(outputs) == self.width else outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = -1 if self.linear else (1 if x.dim() == self.weight.dim() else 0)
        if self.inputs is not None:
            x = x.index_select(dim, self.inputs)
        w = self.weight.to(x.dtype)
        if self.linear:
            y = F.linear(x, w, self.kept_bias)
        else:
            conv = F.conv1d if self.weight.dim() == 3 else F.conv2d
            y = conv(x, w, self.kept_bias, self.stride, self.padding, self.dilation)
        if self.outputs is None:
            return y
        shape = list(y.shape)
        shape[dim] = self.width
        full = y.new_zeros(shape)
        if self.bias is not None:
            view = [1] * len(shape)
            view[dim] = self.width
            full += self.bias.to(y.dtype).view(view)
        return full.index_copy_(dim, self.outputs, y)

    def extra_repr(self) -> str:
        kept_in = self.weight.shape[1]
        return (f"compact dense {tuple(self.weight.shape[:2])} of {self.width} outputs, "
                f"{kept_in} inputs read")
