"""LayerShape-shape catalogs of the networks the seed works evaluate (no weights needed).

Shapes follow the original publications: AlexNet (Krizhevsky et al. 2012, ungrouped view of the
two-GPU convolutions), VGG-16 (Simonyan & Zisserman 2015, configuration D), ResNet-50 (He et al.
2016, torchvision's v1.5 layout with the stride on the 3x3 convolution), GNMT (Wu et al. 2016, as
in the MLPerf reference: 4 encoder layers with the first bidirectional, 4 decoder layers, 1024
units, normalised Bahdanau attention, 32,320-word vocabulary), Jasper 10x5 (Li et al. 2019, 64
mel features), NeuralTalk and EIE's nine benchmark layers with their published densities (Han et
al., ISCA 2016, Table III), BERT-base (Devlin et al. 2019) and all-MiniLM-L6-v2 (6 layers, 384
hidden, 1,536 FFN).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

Kind = Literal["conv", "fc", "lstm"]


@dataclass(frozen=True)
class LayerShape:
    """One weight layer: its shape, the input it sees, and published densities when known.

    ``lstm`` layers are one gate matrix (weight_ih or weight_hh, four gates stacked: 4H x in).
    """

    name: str
    kind: Kind
    in_features: int
    out_features: int
    kernel: tuple[int, ...] = ()
    input_size: tuple[int, ...] = ()
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    groups: int = 1
    weight_density: float | None = None
    act_density: float | None = None

    @property
    def weight_shape(self) -> tuple[int, ...]:
        """Shape of the torch weight: (out, in) or (C_out, C_in / groups, *kernel)."""
        if self.kind == "conv":
            return (self.out_features, self.in_features // self.groups, *self.kernel)
        return (self.out_features, self.in_features)

    @property
    def output_size(self) -> tuple[int, ...]:
        """Spatial size of the output (conv) or () for fc/lstm."""
        if self.kind != "conv":
            return ()
        return tuple(
            (n + 2 * self.padding - self.dilation * (k - 1) - 1) // self.stride + 1
            for n, k in zip(self.input_size, self.kernel)
        )

    @property
    def n_weights(self) -> int:
        return math.prod(self.weight_shape)

    @property
    def macs(self) -> int:
        """Dense multiply-accumulates for one input sample."""
        return self.n_weights * math.prod(self.output_size)

    def random_weight(self, seed: int = 0) -> torch.Tensor:
        """Seeded normal weights of this layer's shape (He-scaled by fan-in)."""
        g = torch.Generator().manual_seed(seed)
        w = torch.randn(self.weight_shape, generator=g)
        fan_in = math.prod(self.weight_shape[1:])
        return w * math.sqrt(2.0 / fan_in)


def _conv(name: str, cin: int, cout: int, k: int, size: int, stride: int = 1,
          padding: int | None = None) -> LayerShape:
    pad = k // 2 if padding is None else padding
    return LayerShape(name, "conv", cin, cout, (k, k), (size, size), stride, pad)


def _fc(name: str, cin: int, cout: int, wd: float | None = None, ad: float | None = None) -> LayerShape:
    return LayerShape(name, "fc", cin, cout, weight_density=wd, act_density=ad)


def alexnet() -> list[LayerShape]:
    return [
        _conv("conv1", 3, 96, 11, 227, stride=4, padding=0),
        _conv("conv2", 96, 256, 5, 27),
        _conv("conv3", 256, 384, 3, 13),
        _conv("conv4", 384, 384, 3, 13),
        _conv("conv5", 384, 256, 3, 13),
        _fc("fc6", 9216, 4096),
        _fc("fc7", 4096, 4096),
        _fc("fc8", 4096, 1000),
    ]


def vgg16() -> list[LayerShape]:
    cfg = [(224, [64, 64]), (112, [128, 128]), (56, [256] * 3), (28, [512] * 3), (14, [512] * 3)]
    layers, cin = [], 3
    for stage, (size, widths) in enumerate(cfg, start=1):
        for j, cout in enumerate(widths, start=1):
            layers.append(_conv(f"conv{stage}_{j}", cin, cout, 3, size))
            cin = cout
    return layers + [_fc("fc6", 25088, 4096), _fc("fc7", 4096, 4096), _fc("fc8", 4096, 1000)]


def resnet50() -> list[LayerShape]:
    layers = [_conv("conv1", 3, 64, 7, 224, stride=2, padding=3)]
    cin, size = 64, 56
    for stage, (blocks, width) in enumerate([(3, 64), (4, 128), (6, 256), (3, 512)], start=1):
        for b in range(blocks):
            stride = 2 if (b == 0 and stage > 1) else 1
            p = f"layer{stage}.{b}"
            layers.append(_conv(f"{p}.conv1", cin, width, 1, size))
            layers.append(_conv(f"{p}.conv2", width, width, 3, size, stride=stride))
            out_size = size // stride
            layers.append(_conv(f"{p}.conv3", width, 4 * width, 1, out_size))
            if b == 0:
                layers.append(_conv(f"{p}.downsample", cin, 4 * width, 1, size, stride=stride))
            cin, size = 4 * width, out_size
    return layers + [_fc("fc", 2048, 1000)]


def _lstm(name: str, cin: int, hidden: int) -> list[LayerShape]:
    return [LayerShape(f"{name}.w_ih", "lstm", cin, 4 * hidden), LayerShape(f"{name}.w_hh", "lstm", hidden, 4 * hidden)]


def gnmt() -> list[LayerShape]:
    h = 1024
    layers = _lstm("enc0.fwd", h, h) + _lstm("enc0.bwd", h, h) + _lstm("enc1", 2 * h, h)
    layers += _lstm("enc2", h, h) + _lstm("enc3", h, h)
    layers += [_fc("attn.query", h, h), _fc("attn.key", h, h)]
    for i in range(4):
        layers += _lstm(f"dec{i}", 2 * h, h)
    return layers + [_fc("classifier", h, 32320)]


def jasper(frames: int = 400) -> list[LayerShape]:
    """Jasper 10x5 (dense residual omitted: it adds 1x1 projections, not sparse targets)."""
    def c1(name: str, cin: int, cout: int, k: int, t: int, stride: int = 1, dil: int = 1) -> LayerShape:
        return LayerShape(name, "conv", cin, cout, (k,), (t,), stride, dil * (k // 2), dil)

    t = frames // 2
    layers = [c1("prologue", 64, 256, 11, frames, stride=2)]
    cin = 256
    for b, (cout, k) in enumerate([(256, 11), (384, 13), (512, 17), (640, 21), (768, 25)]):
        for rep in range(2):
            for sub in range(5):
                layers.append(c1(f"block{2 * b + rep + 1}.{sub}", cin, cout, k, t))
                cin = cout
    return layers + [
        c1("epilogue1", 768, 896, 29, t, dil=2),
        c1("epilogue2", 896, 1024, 1, t),
        c1("decoder", 1024, 29, 1, t),
    ]


def neuraltalk() -> list[LayerShape]:
    return [layer for layer in eie_layers() if layer.name.startswith("NT-")]


def eie_layers() -> list[LayerShape]:
    """EIE's nine benchmark layers (inputs x outputs, weight and activation density; Table III)."""
    rows = [
        ("Alex-6", 9216, 4096, 0.09, 0.351), ("Alex-7", 4096, 4096, 0.09, 0.353),
        ("Alex-8", 4096, 1000, 0.25, 0.375), ("VGG-6", 25088, 4096, 0.04, 0.183),
        ("VGG-7", 4096, 4096, 0.04, 0.375), ("VGG-8", 4096, 1000, 0.23, 0.411),
        ("NT-We", 4096, 600, 0.10, 1.0), ("NT-Wd", 600, 8791, 0.11, 1.0),
        ("NT-LSTM", 1201, 2400, 0.10, 1.0),
    ]
    return [_fc(n, i, o, wd, ad) for n, i, o, wd, ad in rows]


def _transformer(prefix: str, n_layers: int, hidden: int, ffn: int) -> list[LayerShape]:
    layers = []
    for i in range(n_layers):
        p = f"{prefix}.{i}"
        layers += [_fc(f"{p}.attention.self.{m}", hidden, hidden) for m in ("query", "key", "value")]
        layers += [_fc(f"{p}.attention.output.dense", hidden, hidden),
                   _fc(f"{p}.intermediate.dense", hidden, ffn), _fc(f"{p}.output.dense", ffn, hidden)]
    return layers


def bert_base() -> list[LayerShape]:
    return _transformer("encoder.layer", 12, 768, 3072)


def minilm() -> list[LayerShape]:
    return _transformer("encoder.layer", 6, 384, 1536)


NETWORKS = {
    "alexnet": alexnet,
    "vgg16": vgg16,
    "resnet50": resnet50,
    "gnmt": gnmt,
    "jasper": jasper,
    "neuraltalk": neuraltalk,
    "eie": eie_layers,
    "bert-base": bert_base,
    "minilm": minilm,
}


def get_network(name: str) -> list[LayerShape]:
    """The layers of a catalogued network; ValueError listing the valid names otherwise."""
    key = name.lower()
    if key not in NETWORKS:
        raise ValueError(f"unknown workload {name!r}; valid: {', '.join(NETWORKS)}")
    return NETWORKS[key]()


def get_layer(spec: str) -> LayerShape:
    """One layer as ``network:layer`` (e.g. ``eie:Alex-8``, ``resnet50:layer1.0.conv2``)."""
    net, sep, lname = spec.partition(":")
    layers = get_network(net)
    if not sep:
        raise ValueError(f"layer spec {spec!r} must be network:layer, e.g. eie:Alex-8")
    for layer in layers:
        if layer.name == lname:
            return layer
    raise ValueError(
        f"network {net!r} has no layer {lname!r}; layers: {', '.join(lay.name for lay in layers)}"
    )
