"""What the studies share: catalog layers run on a machine with seeded activations, MiniLM's real
layers, and the small arithmetic of their summaries."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..hardware import simulate
from ..hardware.layers import random_activations
from ..workloads.catalog import LayerShape

#: conv layer -> weight density of Han et al.'s pruned models (Deep Compression, ICLR 2016,
#: Table 4 AlexNet and Table 5 VGG-16; the same as "Learning both weights and connections",
#: NIPS 2015); with the published FC densities they give 6.7M of AlexNet's 61M and 10.3M of
#: VGG-16's 138M weights, the papers' totals
PRUNED_DENSITY = {
    "alexnet:conv1": 0.84, "alexnet:conv2": 0.38, "alexnet:conv3": 0.35, "alexnet:conv4": 0.37,
    "alexnet:conv5": 0.37,
    "vgg16:conv1_1": 0.58, "vgg16:conv1_2": 0.22, "vgg16:conv2_1": 0.34, "vgg16:conv2_2": 0.36,
    "vgg16:conv3_1": 0.53, "vgg16:conv3_2": 0.24, "vgg16:conv3_3": 0.42, "vgg16:conv4_1": 0.32,
    "vgg16:conv4_2": 0.27, "vgg16:conv4_3": 0.34, "vgg16:conv5_1": 0.35, "vgg16:conv5_2": 0.29,
    "vgg16:conv5_3": 0.36,
}


def check_fraction(name: str, value: float, what: str) -> None:
    """A study option in (0, 1], or a ValueError saying what it is and what it got."""
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{name} must be in (0, 1] ({what}), got {value}")


def pruned_layer(name: str, seed: int) -> tuple[LayerShape, torch.Tensor, torch.Tensor]:
    """A catalog conv layer with seeded random weights pruned by magnitude to its
    :data:`PRUNED_DENSITY`: (layer, pruned weight, mask)."""
    from ..patterns import pattern
    from ..workloads.catalog import get_layer

    layer = get_layer(name)
    w = layer.random_weight(seed)
    mask = pattern("unstructured").mask(w, 1.0 - PRUNED_DENSITY[name])
    return layer, w * mask, mask


def layer_activations(layer: LayerShape, density: float, seed: int, tokens: int) -> np.ndarray:
    """Seeded activations for a catalog layer: (C_in, H, W) for conv, (tokens, inputs) for FC."""
    shape = (layer.in_features, *layer.input_size) if layer.kind == "conv" else (tokens, layer.in_features)
    return random_activations(shape, density, seed)


def run_layer(accel: str, layer: LayerShape, weight: torch.Tensor, acts: np.ndarray, **params: Any) -> Any:
    """Simulate one catalog layer (its stride and padding) on ``accel``."""
    if layer.kind == "conv":
        params.update(stride=layer.stride, padding=layer.padding)
    return simulate(accel, weight, acts, **params)


def dense_macs(layer: LayerShape, acts: np.ndarray) -> int:
    """Dense multiply-accumulates of the layer on these activations (all samples)."""
    return layer.macs * (acts.shape[0] if layer.kind != "conv" else 1)


def energy_groups(result: Any) -> dict[str, float]:
    """Energy (uJ) by group of the action vocabulary: dram, sram, rf, compute, control."""
    return {g: pj / 1e6 for g, pj in result.energy_by_group().items()}


def geomean(xs: list[float]) -> float:
    xs = [x for x in xs if x > 0 and math.isfinite(x)]
    return float(np.exp(np.mean(np.log(xs)))) if xs else float("nan")


def minilm_layers(filter_: str) -> dict[str, torch.Tensor]:
    """Real all-MiniLM-L6-v2 weights whose names contain ``filter_``; empty when not installed."""
    from ..workloads.weights import load_weights

    try:
        return load_weights("minilm", filter_)
    except ValueError:
        return {}


def minilm_layer(name: str, w: torch.Tensor) -> LayerShape:
    return LayerShape(f"minilm:{name.removeprefix('encoder.').removesuffix('.weight')}", "fc",
                 w.shape[1], w.shape[0])
