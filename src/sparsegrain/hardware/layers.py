"""Layer handling shared by the accelerator models: shapes, activations, lowering, reference.

A model receives a (masked) weight and, optionally, activations. :func:`prepare` checks them
against each other and returns a :class:`LayerRun`: the weight and its mask as numpy arrays, the
activations batched as (N, C_in, H, W) for conv or (N, inputs) for FC, the output shape, and
helpers to lower a conv to a matrix product (im2col, channel-last like
:func:`sparsegrain.patterns.base.to_matrix`) and to compute the dense torch reference.
Conv1d weights (C_out, C_in, K) run as conv2d with a height of one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from . import inputs
from .base import Accelerator

#: default density of generated activations (choice: a typical post-ReLU density; SCNN,
#: Parashar et al. 2017, Fig. 1, reports 30-70% across its networks' layers)
DEFAULT_ACT_DENSITY = 0.5


def as_array(t: Any, what: str) -> np.ndarray:
    """A float32 numpy copy of a tensor or array, with a clear error for anything else."""
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().numpy()
    if not isinstance(t, np.ndarray):
        raise ValueError(f"{what} must be a torch tensor or numpy array, got {type(t).__name__}")
    if not np.issubdtype(t.dtype, np.number) and t.dtype != np.bool_:
        raise ValueError(f"{what} must be numeric, got dtype {t.dtype}")
    return np.ascontiguousarray(t, dtype=np.float32)


def random_activations(shape: tuple[int, ...], density: float, seed: int = 0) -> np.ndarray:
    """Seeded activations of any shape with exactly round(density * size) nonzeros
    (:func:`sparsegrain.hardware.inputs.random_activations` over the flattened tensor)."""
    return inputs.random_activations(int(np.prod(shape)), density, seed).reshape(shape)


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
        n, c, _, _ = self.x.shape
        _, _, kh, kw = self.weight.shape
        cols = F.unfold(torch.from_numpy(self.x), (kh, kw), padding=self.padding, stride=self.stride)
        # (N, C*Kh*Kw, P) -> (N, P, Kh, Kw, C)
        cols = cols.reshape(n, c, kh, kw, -1).permute(0, 4, 2, 3, 1)
        return np.ascontiguousarray(cols.reshape(n * self.positions, kh * kw * c).numpy())

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


def prepare(
    weights: Any,
    activations: Any = None,
    *,
    mask: Any = None,
    stride: int = 1,
    padding: int = 0,
    input_size: int | tuple[int, int] | None = None,
    act_density: float = DEFAULT_ACT_DENSITY,
    seed: int = 0,
) -> LayerRun:
    """Check a layer and its activations; generate seeded activations when none are given.

    ``mask`` defaults to ``weights != 0``; ``input_size`` (H, W) is needed for a conv layer only
    when no activations are given.
    """
    w = as_array(weights, "weights")
    m = (w != 0) if mask is None else as_array(mask, "mask").astype(bool)
    if m.shape != w.shape:
        raise ValueError(f"mask shape {m.shape} does not match weight shape {w.shape}")
    w = np.where(m, w, np.float32(0))
    if stride < 1 or padding < 0:
        raise ValueError(f"stride must be >= 1 and padding >= 0, got stride={stride}, padding={padding}")
    if w.ndim == 2:
        return _prepare_fc(w, m, activations, act_density, seed)
    if w.ndim not in (3, 4):
        raise ValueError(
            f"weights must be FC (outputs, inputs), conv1d (C_out, C_in, K) or conv2d "
            f"(C_out, C_in, Kh, Kw); got shape {w.shape}"
        )
    return _prepare_conv(w, m, activations, stride, padding, input_size, act_density, seed)


def _prepare_fc(w: np.ndarray, m: np.ndarray, activations: Any, density: float, seed: int) -> LayerRun:
    n_out, n_in = w.shape
    if activations is None:
        x = random_activations((1, n_in), density, seed)
        user = (n_out,)
    else:
        x = as_array(activations, "activations")
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
        x = as_array(activations, "activations")
        want = 2 if conv1d else 3
        if x.ndim not in (want, want + 1) or x.shape[-want] != c_in:
            form = "(C_in, L) or (N, C_in, L)" if conv1d else "(C_in, H, W) or (N, C_in, H, W)"
            raise ValueError(
                f"conv layer with C_in={c_in} needs activations shaped {form}; got {x.shape}"
            )
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


class LayerAccelerator(Accelerator):
    """An accelerator model whose layer parameters (stride, padding, generated activations)
    are constructor parameters, so that :func:`~sparsegrain.hardware.simulate` can pass them."""

    def __init__(self, stride: int = 1, padding: int = 0, input_size: int | tuple[int, int] | None = None,
                 act_density: float = DEFAULT_ACT_DENSITY, seed: int = 0, mask: Any = None) -> None:
        self.stride, self.padding, self.input_size = stride, padding, input_size
        self.act_density, self.seed, self.mask = act_density, seed, mask

    def layer(self, weights: Any, activations: Any) -> LayerRun:
        """The checked layer this model runs."""
        return prepare(weights, activations, mask=self.mask, stride=self.stride,
                       padding=self.padding, input_size=self.input_size,
                       act_density=self.act_density, seed=self.seed)
