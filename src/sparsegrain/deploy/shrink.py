"""Physically smaller layers across the model: output channels a pruned layer no longer produces
(filter pruning empties them) or that the next layer no longer reads (channel pruning) are cut
from the producer, from what lies between (BatchNorm), and from the consumer's input, as
Torch-Pruning's dependency graph does, but only where the result is exact.

The model is traced (``torch.fx``) to find, for each Linear/Conv1d/Conv2d, the one layer that
reads its output through channel-wise steps alone (BatchNorm in eval mode, activations, dropout
in eval mode, max pooling, flatten before a Linear). An emptied channel still outputs its bias,
a constant, which the steps map to another constant: the consumer adds what it contributes to
its own bias (exact for a Linear and for a convolution without padding). A padded
convolution's border taps read zeros instead, so there the constant planes' contribution is
kept as a map per input size (:class:`BorderFold` wraps the convolution). A channel the
consumer does not read is cut without any fold.
Layers whose output also feeds an addition, a concatenation, attention or anything else are left
as they are, each with the reason. A model fx cannot trace (control flow on values) is shrunk
part by part: each child traced on its own, what leaves a child left as it is.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn
from torch.nn import functional as F
from torch.nn.utils import parametrize

#: the layers whose channels are cut
LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d)
#: modules that act on each channel alone and map a constant channel to a constant
ELEMENTWISE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid,
               nn.Hardswish, nn.Hardtanh, nn.ELU, nn.Identity, nn.Dropout, nn.Dropout1d,
               nn.Dropout2d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
POOLS = (nn.MaxPool1d, nn.MaxPool2d)
FUNCTIONS = {F.relu, torch.relu, F.gelu, F.silu, torch.tanh, torch.sigmoid, F.dropout}


@dataclass
class Cut:
    """What :func:`shrink` did to one layer and its consumer."""

    layer: str
    consumer: str | None
    channels: int
    removed: int = 0
    reason: str = ""


@dataclass
class ShrinkReport:
    """Every layer :func:`shrink` looked at: the channels it cut, or why it cut none; and the
    (inputs, outputs, bias) of each layer and BatchNorm it resized, before and after."""

    cuts: list[Cut] = field(default_factory=list)
    resized: dict[str, tuple[tuple[int, int, bool], tuple[int, int, bool]]] = field(
        default_factory=dict)

    @property
    def removed(self) -> int:
        return sum(c.removed for c in self.cuts)


def shrink(model: nn.Module) -> ShrinkReport:
    """Cut, in place, every channel a pruned layer of ``model`` (in eval mode) no longer
    produces or its consumer no longer reads, wherever that is exact (module docstring); the
    model computes the same function afterwards. Returns what was cut and what was not, why."""
    if model.training:
        raise ValueError("shrink needs the model in eval mode (BatchNorm statistics fixed): "
                         "call model.eval() first")
    try:
        graph = fx.symbolic_trace(model).graph
    except Exception as e:  # noqa: BLE001 - a model fx cannot trace: its parts, one by one
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        return _by_parts(model, f"not traceable by torch.fx: {first}")
    modules = dict(model.named_modules())
    sized = {n: (m, channels(m)) for n, m in modules.items() if isinstance(m, (*LAYERS, *NORMS))}
    report, folds = ShrinkReport(), {}
    for node in graph.nodes:
        if node.op == "call_module" and isinstance(modules.get(node.target), LAYERS):
            report.cuts.append(_shrink_one(node, modules, folds))
    for name, fold in folds.items():  # the padded consumers that took a constant, wrapped
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, child, fold)
    report.resized = {n: (was, now) for n, (m, was) in sized.items() if (now := channels(m)) != was}
    return report


def _by_parts(model: nn.Module, why: str) -> ShrinkReport:
    """Shrink each child of an untraceable ``model`` on its own (recursively): a chain inside a
    child is cut; an output leaving a child is its output, which is left as it is."""
    report = ShrinkReport([Cut("(model)", None, 0, reason=why)])
    for name, child in model.named_children():
        if isinstance(child, LAYERS) or not any(isinstance(m, LAYERS) for m in child.modules()):
            continue
        part = shrink(child)
        for cut in part.cuts:
            cut.layer = f"{name}.{cut.layer}"
            cut.consumer = None if cut.consumer is None else f"{name}.{cut.consumer}"
            report.cuts.append(cut)
        report.resized |= {f"{name}.{n}": sizes for n, sizes in part.resized.items()}
    return report


class BorderFold(nn.Module):
    """A convolution whose input lost channels that carried a constant each: ``conv(x)`` plus
    what those constant planes gave through the cut weights, zero padding included (the border
    taps read zeros, so near the edges this is not a constant): a map per input size, made on
    first use and kept. The convolution's geometry is kept here, so that ``conv`` may be
    replaced by its sparse form (``sparsify``)."""

    def __init__(self, conv: nn.Conv1d | nn.Conv2d, weight: torch.Tensor, values: torch.Tensor
                 ) -> None:
        super().__init__()
        self.conv = conv
        self.dims = conv.weight.dim() - 2  # spatial dimensions
        self.stride, self.padding, self.dilation = conv.stride, conv.padding, conv.dilation
        self.register_buffer("cut_weight", weight.clone())
        self.register_buffer("cut_values", values.clone())
        self._maps: dict[tuple, torch.Tensor] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = self.dims  # an unbatched input has one dimension fewer
        key = (tuple(x.shape[-dims:]), x.dtype, x.device)
        if key not in self._maps:
            planes = self.cut_values.to(x.dtype).view(1, -1, *[1] * dims).expand(
                1, len(self.cut_values), *key[0])
            run = F.conv2d if dims == 2 else F.conv1d
            self._maps[key] = run(planes, self.cut_weight.to(x.dtype), None, self.stride,
                                  self.padding, self.dilation).to(x.device)
        offset = self._maps[key]
        return self.conv(x) + (offset if x.dim() == dims + 2 else offset[0])

    def keep_outputs(self, keep: torch.Tensor) -> None:
        """Follow the convolution losing output channels: keep the same rows of the cut weights."""
        self.cut_weight = self.cut_weight[keep].clone()
        self._maps.clear()

    def rows(self) -> torch.Tensor:
        """Which output channels the folded planes reach (a nonzero cut weight)."""
        return self.cut_weight.reshape(self.cut_weight.shape[0], -1).any(1)


def _chain(node: fx.Node, modules: dict[str, nn.Module]) -> tuple[list[Any], fx.Node | str]:
    """The channel-wise steps from ``node``'s output to the one layer that reads it, and that
    layer's node; or the steps so far and the reason the chain stops."""
    steps: list[Any] = []
    while True:
        users = list(node.users)
        if len(users) != 1:
            return steps, f"its output feeds {len(users)} places"
        node = users[0]
        if node.op == "output":
            return steps, "it is the model's output"
        mod = modules.get(node.target) if node.op == "call_module" else None
        if isinstance(mod, LAYERS):
            return steps, node
        if isinstance(mod, (*ELEMENTWISE, *NORMS)) or (isinstance(mod, POOLS)):
            steps.append(mod)
        elif isinstance(mod, nn.Flatten) or (node.op == "call_function" and node.target is torch.flatten):
            steps.append("flatten")
        elif node.op == "call_function" and node.target in FUNCTIONS:
            steps.append(node.target)
        elif node.op == "call_method" and node.target in ("relu", "sigmoid", "tanh"):
            steps.append(getattr(torch, node.target))
        else:
            what = node.target if node.op != "call_function" else getattr(
                node.target, "__name__", str(node.target))
            if node.target in (operator.add, torch.add, torch.cat):
                return steps, "its output reaches an addition or concatenation"
            return steps, f"its output reaches {what}, which shrink does not follow"


def _shrink_one(node: fx.Node, modules: dict[str, nn.Module], folds: dict[str, BorderFold]
                ) -> Cut:
    """Cut what ``node``'s layer and its consumer allow, or say why nothing."""
    layer = modules[node.target]
    weight = layer.weight.detach()
    cut = Cut(node.target, None, weight.shape[0])
    steps, end = _chain(node, modules)
    if isinstance(end, str):
        cut.reason = end
        return cut
    consumer = modules[end.target]
    cut.consumer = end.target
    if not (_plain(layer) and _plain(consumer)):
        cut.reason = ("a weight is masked by a parametrization or a torch.nn.utils.prune hook "
                      "(make the masks permanent first)")
        return cut
    if isinstance(consumer, (nn.Conv1d, nn.Conv2d)) and consumer.groups != 1:
        cut.reason = "its consumer is a grouped convolution"
        return cut
    flat = "flatten" in steps
    per = consumer.weight.shape[1] // weight.shape[0] if flat else 1
    if (flat and not isinstance(consumer, nn.Linear)) or per * weight.shape[0] != consumer.weight.shape[1]:
        cut.reason = "its consumer's inputs do not match its channels"
        return cut
    empty = ~weight.reshape(weight.shape[0], -1).any(1)
    if node.target in folds:  # a channel the folded planes reach is no constant
        empty &= ~folds[node.target].rows()
    cols = consumer.weight.detach().transpose(0, 1).reshape(weight.shape[0], -1)
    unread = ~cols.any(1)
    bias = layer.bias.detach() if layer.bias is not None else torch.zeros(weight.shape[0])
    value = _through(steps, bias)  # what each emptied channel carries to the consumer
    drop = unread | empty
    if not drop.any():
        cut.reason = "no channel empty or unread"
        return cut
    if drop.all():
        cut.reason = "every channel would go: the layer is empty"
        return cut
    bordered = empty & ~unread & (value != 0)
    # zero padding reads zeros at the border; reflect, replicate and circular read the constant
    zero_padded = isinstance(consumer, (nn.Conv1d, nn.Conv2d)) and consumer.padding_mode == \
        "zeros" and (consumer.padding == "same" or any(consumer.padding))
    if zero_padded and bordered.any():
        folds[end.target] = BorderFold(consumer, consumer.weight.detach()[:, bordered],
                                       value[bordered])
    else:
        _fold(consumer, empty & ~unread, value, per)
    keep = (~drop).nonzero().flatten()
    _keep_outputs(layer, keep)
    if node.target in folds:
        folds[node.target].keep_outputs(keep)
    for s in steps:
        if isinstance(s, NORMS):
            _keep_norm(s, keep)
    _keep_inputs(consumer, keep, per)
    cut.removed = int(drop.sum())
    return cut


def _plain(layer: nn.Module) -> bool:
    """Is ``layer.weight`` a plain parameter (no parametrization, no prune hook's
    ``weight_orig``) that can be replaced by a smaller one?"""
    return (isinstance(layer._parameters.get("weight"), nn.Parameter)
            and not parametrize.is_parametrized(layer) and "weight_orig" not in layer._parameters)


def _through(steps: list[Any], values: torch.Tensor) -> torch.Tensor:
    """Each channel's constant after the channel-wise ``steps``: max pooling (its padding is
    -inf), flatten and dropout in eval mode keep a constant as it is."""
    x = values[None, :, None].clone()  # (1, C, 1): what BatchNorm1d and activations take
    with torch.no_grad():
        for s in steps:
            if isinstance(s, POOLS) or s == "flatten" or s is F.dropout:
                continue
            x = s(x[..., None])[..., 0] if isinstance(s, nn.BatchNorm2d) else s(x)
    return x[0, :, 0]


def _fold(consumer: nn.Module, channels: torch.Tensor, value: torch.Tensor, per: int) -> None:
    """Add to ``consumer``'s bias what the constant ``value`` of each channel in ``channels``
    contributes to every output (its weights over that channel, all taps, times the value)."""
    if not channels.any():
        return
    w = consumer.weight.detach()
    cols = w.reshape(w.shape[0], -1, per, *w.shape[2:]) if per > 1 else w
    contrib = (cols[:, channels].reshape(w.shape[0], int(channels.sum()), -1).sum(2)
               * value[channels]).sum(1)
    if consumer.bias is None:
        consumer.bias = nn.Parameter(torch.zeros(w.shape[0], dtype=w.dtype))
    with torch.no_grad():
        consumer.bias.add_(contrib)


def _keep_outputs(layer: nn.Module, keep: torch.Tensor) -> None:
    layer.weight = nn.Parameter(layer.weight.detach()[keep].clone())
    if layer.bias is not None:
        layer.bias = nn.Parameter(layer.bias.detach()[keep].clone())
    if isinstance(layer, nn.Linear):
        layer.out_features = len(keep)
    else:
        layer.out_channels = len(keep)


def _keep_norm(norm: nn.Module, keep: torch.Tensor) -> None:
    for name in ("weight", "bias"):
        p = getattr(norm, name)
        if p is not None:
            setattr(norm, name, nn.Parameter(p.detach()[keep].clone()))
    norm.running_mean = norm.running_mean[keep].clone()
    norm.running_var = norm.running_var[keep].clone()
    norm.num_features = len(keep)


def channels(module: nn.Module) -> tuple[int, int, bool]:
    """A dense Linear/Conv1d/Conv2d's (inputs, outputs, has a bias), a BatchNorm's (features,
    features, affine)."""
    if isinstance(module, NORMS):
        return module.num_features, module.num_features, module.affine
    return (module.weight.shape[1] * getattr(module, "groups", 1), module.weight.shape[0],
            module.bias is not None)


def resize(module: nn.Module, inputs: int, outputs: int, bias: bool) -> None:
    """Give a dense layer or BatchNorm a shrunk twin's channel counts in place, its tensors
    left unset for the twin's state to fill (what loading a shrunk model does to a skeleton)."""
    if isinstance(module, NORMS):
        for name in ("weight", "bias"):
            if getattr(module, name) is not None:
                setattr(module, name, nn.Parameter(torch.empty(outputs)))
        for name in ("running_mean", "running_var"):
            if getattr(module, name) is not None:
                setattr(module, name, torch.empty(outputs))
        module.num_features = outputs
        return
    groups = getattr(module, "groups", 1)
    module.weight = nn.Parameter(torch.empty(outputs, inputs // groups, *module.weight.shape[2:]))
    module.bias = nn.Parameter(torch.empty(outputs)) if bias else None
    if isinstance(module, nn.Linear):
        module.in_features, module.out_features = inputs, outputs
    else:
        module.in_channels, module.out_channels = inputs, outputs


def _keep_inputs(consumer: nn.Module, keep: torch.Tensor, per: int) -> None:
    w = consumer.weight.detach()
    if per > 1:  # a Linear after flatten: channel c is inputs c*per .. (c+1)*per - 1
        keep = (keep[:, None] * per + torch.arange(per)[None, :]).flatten()
    consumer.weight = nn.Parameter(w[:, keep].clone())
    if isinstance(consumer, nn.Linear):
        consumer.in_features = len(keep)
    else:
        consumer.in_channels = len(keep)
