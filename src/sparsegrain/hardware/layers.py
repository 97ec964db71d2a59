"""The one layer type every machine model runs, and its checked numpy form.

A model's ``run`` takes a :class:`Layer` (weight or encoded weight, geometry, activations).
:meth:`Layer.prepare` checks them against each other and returns a :class:`LayerRun`: the weight
and its mask as numpy arrays, the activations batched as (N, C_in, H, W) for conv or (N, inputs)
for FC, the output shape, and helpers to lower a conv to a matrix product (the shared im2col,
channel-last like :func:`sparsegrain.patterns.base.to_matrix`) and to compute the dense torch
reference. Conv1d weights (C_out, C_in, K) run as conv2d with a height of one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..core.arrays import as_bool, as_float32
from ..core.lowering import im2col
from ..formats import Encoded
from . import inputs
from .inputs import random_activations

#: default density of generated activations (choice: a typical post-ReLU density; SCNN,
#: Parashar et al. 2017, Fig. 1, reports 30-70% across its networks' layers)
DEFAULT_ACT_DENSITY = 0.5


KINDS: tuple[str, ...] = ("fc", "conv", "recurrent")


@dataclass
class Layer:
    """One layer for a machine model: what it computes and on which activations.

    ``weight`` is the (masked) weight as a tensor or array, FC / recurrent (outputs, inputs),
    conv1d (C_out, C_in, K) or conv2d (C_out, C_in, Kh, Kw), or an encoded weight
    (:class:`sparsegrain.formats.Encoded`), which models that read that format use as stored.
    ``activations`` are what the layer's forward takes: (inputs,) or (N, inputs) for FC and
    recurrent, (C_in, H, W) or (N, C_in, H, W) for conv; ``None`` generates seeded ReLU-like
    activations at ``act_density`` (a conv layer then needs ``input_size``). ``kind`` defaults
    from the weight's rank; ``recurrent`` is one gate matrix, run as FC. ``mask`` (True = kept)
    defaults to the weight's nonzeros.
    """

    weight: Any
    activations: Any = None
    kind: str | None = None
    stride: int = 1
    padding: int = 0
    input_size: int | tuple[int, int] | None = None
    act_density: float = DEFAULT_ACT_DENSITY
    seed: int = 0
    mask: Any = None
    name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.weight, (torch.Tensor, np.ndarray, Encoded)):
            raise ValueError(
                "a layer's weight must be a torch.Tensor, a numpy array or an encoded weight "
                f"(sparsegrain.encode), got {type(self.weight).__name__}"
            )
        rank = len(self.shape)
        if rank not in (2, 3, 4):
            raise ValueError(
                f"weights must be FC (outputs, inputs), conv1d (C_out, C_in, K) or conv2d "
                f"(C_out, C_in, Kh, Kw); got shape {tuple(self.shape)}"
            )
        if 0 in self.shape:
            raise ValueError(f"weight of shape {self.shape} is empty; give one whose every "
                             "dimension is at least 1")
        if self.kind is None:
            self.kind = "fc" if rank == 2 else "conv"
        if self.kind not in KINDS:
            raise ValueError(f"unknown layer kind {self.kind!r}; valid: {', '.join(KINDS)}")
        if (self.kind == "conv") != (rank > 2):
            raise ValueError(
                f"a {self.kind} layer cannot have a weight of shape {tuple(self.shape)}"
            )
        if not isinstance(self.stride, int) or not isinstance(self.padding, int) \
                or self.stride < 1 or self.padding < 0:
            raise ValueError(
                f"stride must be >= 1 and padding >= 0, got stride={self.stride}, "
                f"padding={self.padding}"
            )
        inputs.check_density("act_density", self.act_density)
        size = self.input_size
        size = (size,) if isinstance(size, (int, np.integer)) else size
        if size is not None and not (
                isinstance(size, (tuple, list)) and len(size) in (1, 2) and all(
                    isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1
                    for n in size)):
            raise ValueError(f"input_size must be a positive integer (L, or H = W) or two (H, W), "
                             f"got {self.input_size!r}")

    @property
    def encoded(self) -> Encoded | None:
        """The encoded weight, when the layer was given one."""
        return self.weight if isinstance(self.weight, Encoded) else None

    @property
    def shape(self) -> tuple[int, ...]:
        """The weight's shape (of the decoded weight for an encoded one)."""
        return tuple(int(s) for s in self.weight.shape)

    def dense_weight(self) -> np.ndarray:
        """The weight as float32 numpy, zeros outside the mask (decoded if it came encoded)."""
        w = self.weight.decode() if isinstance(self.weight, Encoded) else self.weight
        return as_float32(w, "weights")

    def prepare(self) -> LayerRun:
        """The checked layer: weight, mask and batched activations as numpy arrays."""
        w = self.dense_weight()
        m = (w != 0) if self.mask is None else as_bool(self.mask, "mask")
        if m.shape != w.shape:
            raise ValueError(f"mask shape {m.shape} does not match weight shape {w.shape}")
        w = np.where(m, w, np.float32(0))
        if w.ndim == 2:
            return _prepare_fc(w, m, self.activations, self.act_density, self.seed)
        return _prepare_conv(w, m, self.activations, self.stride, self.padding, self.input_size,
                             self.act_density, self.seed)


@dataclass
class LayerRun:
    """One checked layer: weight, mask and batched activations (numpy, float32)."""

    kind: str  # "conv" or "fc"
    weight: np.ndarray  # (C_out, C_in, Kh, Kw) or (outputs, inputs), zeros outside the mask
    mask: np.ndarray  # bool, same shape
    x: np.ndarray  # (N, C_in, H, W) or (N, inputs)
    stride: int
    padding: int
    out_shape: tuple[int, ...]  # (N, C_out, Ho, Wo) or (N, outputs)
    #: shape the caller's outputs should have (unbatched input gives unbatched output)
    user_shape: tuple[int, ...]

    @property
    def n_out(self) -> int:
        return self.weight.shape[0]

    @property
    def positions(self) -> int:
        """Output positions per sample (Ho * Wo; 1 for FC)."""
        return int(np.prod(self.out_shape[2:])) if self.kind == "conv" else 1

    def matrix(self) -> np.ndarray:
        """W[outputs, inputs], conv kernels channel-last (Kh*Kw*C_in), masked."""
        w = self.weight if self.kind == "fc" else self.weight.transpose(0, 2, 3, 1)
        return np.ascontiguousarray(w.reshape(self.n_out, -1))

    def mask_matrix(self) -> np.ndarray:
        m = self.mask if self.kind == "fc" else self.mask.transpose(0, 2, 3, 1)
        return np.ascontiguousarray(m.reshape(self.n_out, -1))

    def columns(self) -> np.ndarray:
        """Lowered activations: (N * positions, inputs), each row one output's receptive field,
        ordered like :meth:`matrix`'s columns (kernel row, kernel column, input channel)."""
        if self.kind == "fc":
            return self.x
        _, _, kh, kw = self.weight.shape
        cols = im2col(torch.from_numpy(self.x), (kh, kw), self.stride, self.padding)
        return np.ascontiguousarray(cols.numpy())

    def fold(self, y: np.ndarray) -> np.ndarray:
        """Outputs as (N * positions, C_out) back to the caller's output shape."""
        n = self.out_shape[0]
        if self.kind == "conv":
            y = y.reshape(n, *self.out_shape[2:], self.n_out).transpose(0, 3, 1, 2)
        return np.ascontiguousarray(y).reshape(self.user_shape)

    def reference(self) -> np.ndarray:
        """The dense torch result (float64) in the caller's output shape."""
        w = torch.from_numpy(self.weight).double()
        x = torch.from_numpy(self.x).double()
        if self.kind == "fc":
            y = x @ w.t()
        else:
            y = F.conv2d(x, w, stride=self.stride, padding=self.padding)
        return y.numpy().reshape(self.user_shape)


def _activations(activations: Any, batched_rank: int) -> np.ndarray:
    """The caller's activations as contiguous float32; a batch (of rank ``batched_rank``) with
    no sample is refused, as no machine has anything to run on it."""
    x = as_float32(activations, "activations")
    if x.ndim == 0:
        raise ValueError("activations are a single number (a 0-d array); give a vector of the "
                         "layer's inputs or a batch of them")
    if x.ndim == batched_rank and x.shape[0] == 0:
        raise ValueError("activations hold 0 samples; give at least one")
    return np.ascontiguousarray(x)


def _prepare_fc(w: np.ndarray, m: np.ndarray, activations: Any, density: float, seed: int) -> LayerRun:
    n_out, n_in = w.shape
    if activations is None:
        x = random_activations((1, n_in), density, seed)
        user = (n_out,)
    else:
        x = _activations(activations, 2)
        if x.ndim not in (1, 2) or x.shape[-1] != n_in:
            raise ValueError(
                f"FC layer with {n_in} inputs needs activations shaped ({n_in},) or (N, {n_in}); "
                f"got {x.shape}"
            )
        user = (n_out,) if x.ndim == 1 else (x.shape[0], n_out)
        x = x.reshape(-1, n_in)
    return LayerRun("fc", w, m, x, 1, 0, (x.shape[0], n_out), user)


def _prepare_conv(w: np.ndarray, m: np.ndarray, activations: Any, stride: int, padding: int,
                  input_size: int | tuple[int, int] | None, density: float, seed: int) -> LayerRun:
    conv1d = w.ndim == 3
    if conv1d:
        w, m = w[:, :, None, :], m[:, :, None, :]
    c_out, c_in, kh, kw = w.shape
    if activations is None:
        if input_size is None:
            raise ValueError("a conv layer without activations needs input_size (H, W) or L")
        size = (input_size,) if isinstance(input_size, int) else tuple(input_size)
        size = (1, size[0]) if conv1d else (size * 2 if len(size) == 1 else size)
        x = random_activations((1, c_in, *size), density, seed)
        batched = False
    else:
        want = 2 if conv1d else 3
        x = _activations(activations, want + 1)
        if x.ndim not in (want, want + 1) or x.shape[-want] != c_in:
            form = "(C_in, L) or (N, C_in, L)" if conv1d else "(C_in, H, W) or (N, C_in, H, W)"
            raise ValueError(
                f"conv layer with C_in={c_in} needs activations shaped {form}; got {x.shape}"
            )
        if 0 in x.shape[-want + 1:]:
            form = "an L" if conv1d else "H and W"
            raise ValueError(f"activations of shape {x.shape} are empty; give {form} of at least 1")
        batched = x.ndim == want + 1
        x = x if batched else x[None]
        if conv1d:
            x = x[:, :, None, :]
    if conv1d and padding:
        # conv1d pads the length only: pad here so the 2-D lowering needs no height padding
        x = np.pad(x, ((0, 0), (0, 0), (0, 0), (padding, padding)))
        pad2d = 0
    else:
        pad2d = padding
    n, _, h, wd = x.shape
    ho = (h + 2 * pad2d - kh) // stride + 1
    wo = (wd + 2 * pad2d - kw) // stride + 1
    if ho < 1 or wo < 1:
        raise ValueError(
            f"kernel {kh}x{kw} with stride {stride} and padding {padding} on a {h}x{wd} input gives "
            f"an empty output ({ho}x{wo})"
        )
    out = (n, c_out, ho, wo)
    user = ((c_out, wo) if not batched else (n, c_out, wo)) if conv1d else (out if batched else out[1:])
    return LayerRun("conv", np.ascontiguousarray(w), np.ascontiguousarray(m), np.ascontiguousarray(x),
                    stride, pad2d, out, user)
