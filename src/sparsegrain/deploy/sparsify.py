"""Drop-in sparse layers: ``sparsify(model)`` swaps pruned Linear/Conv1d/Conv2d layers for kernel-backed
ones (inference only), choosing per layer the fastest of dense and each format that holds its mask.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..core.hooks import module_inputs
from ..core.timing import interleaved_samples, spread
from ..kernels import SparseKernel
from ..kernels.build import candidates
from ..kernels.conv import conv2d, takes_direct
from ..kernels.layout import check_value_bits
from ..patterns import Pattern
from ..patterns import pattern as make_pattern
from . import ops
from .autotune import Decision, DecisionCache, decision_key, load_now
from .compact import CompactLayer, shrinks
from .recurrent import SparseRNN, gate_matrices, replaceable_rnn
from .shrink import shrink as shrink_channels

#: the candidate that runs a layer as the smaller dense layer of its kept channels
#: (:class:`~.compact.CompactLayer`), where the mask empties whole outputs or inputs
COMPACT = "compact"


class KernelLayer(nn.Module):
    """A layer whose weight is a sparse kernel: called directly in plain eager code (the
    operator's dispatch cost more than a small layer's product), and through the
    ``sparsegrain::linear`` operator (:mod:`.ops`), by a number that copies and unpickled
    layers renew, where a graph is recorded or a gradient asked for."""

    def __init__(self, kernel: SparseKernel, bias: torch.Tensor | None) -> None:
        super().__init__()
        self.kernel = kernel
        self.number = ops.number(kernel)
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.number = ops.number(self.kernel)

    def product(self, x: torch.Tensor) -> torch.Tensor:
        """x (rows, cols) @ W.T as a new float32 tensor (:func:`.ops.multiply`)."""
        return ops.multiply(self.kernel, self.number, x)

    def graph_product(self, x: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """The product a convolution passes its unfolded patches to where a graph is recorded
        or a gradient asked for (the operator); None in plain eager code, where the kernel
        gathers its patches itself."""
        return None if ops.eager(x) else self.product

    def check_input(self, x: torch.Tensor) -> None:
        """A TypeError for an input the dense layer would refuse too (integers, which a float
        product would otherwise return truncated)."""
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            got = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
            raise TypeError(f"{type(self).__name__} takes a floating-point tensor, got {got}; "
                            "convert it with x.float()")

    def extra_repr(self) -> str:
        return f"{self.kernel.fmt}, shape={self.kernel.shape}, stored_entries={self.kernel.stored_entries}"


class SparseLinear(KernelLayer):
    """``y = x @ W.T + b`` with W held encoded and multiplied by a CPU sparse kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self._buffers["bias"]
        if type(x) is torch.Tensor and x.dtype is torch.float32 and ops.eager(x):
            rows = x.detach() if x.requires_grad else x
            b = None if bias is None else self._bias_array(bias)
            if rows.dim() == 2 and rows.shape[0] == 1:  # one row, the common deployed call
                return torch.from_numpy(self.kernel.row_product(rows.numpy()[0], b)[None])
            if rows.dim() >= 1 and rows.shape[-1] == self.kernel.shape[1]:
                flat = rows.reshape(-1, rows.shape[-1]).numpy()
                y = torch.from_numpy(self.kernel.rows_product(flat, b))
                return y.view(*rows.shape[:-1], -1)
        self.check_input(x)
        lead = x.shape[:-1]
        y = self.product(x.reshape(-1, x.shape[-1]))
        if bias is not None:
            y = y.add_(bias) if not y.requires_grad else y + bias
        y = y.view(*lead, -1)
        return y if x.dtype is torch.float32 else y.to(x.dtype)

    def _bias_array(self, bias: torch.Tensor) -> np.ndarray:
        """The bias buffer as a numpy view, made again only when the buffer is replaced (a
        load_state_dict copies into it; ``.to()`` or an assignment replaces it); a float32 copy
        at every call where ``.to()`` gave it another dtype (the kernels add float32)."""
        if bias.dtype != torch.float32:
            return bias.detach().float().numpy()
        if getattr(self, "_bias_of", None) is not bias:
            self._bias_of, self._bias_np = bias, bias.numpy()
        return self._bias_np


class ConvKernelLayer(KernelLayer):
    """A sparse convolution: with stride 1 the direct product on the padded input (where the
    format gives its entries and ``direct`` stays True), else patches times the kernel."""

    direct = True
    stride: tuple[int, ...]

    @staticmethod
    def finish(y: torch.Tensor, bias: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
        """The kernel's output ``y`` plus ``bias`` (where given), laid out as torch's convolution
        lays out its output for ``x`` (contiguous, or channels-last for a channels-last input),
        so that a ``.view`` that works after the dense layer works after this one (the patch
        product leaves channels-last rows, the direct product contiguous planes). In eager code
        one pass: the bias added in place where y is laid out so already (for a
        64-channel 160 x 256 output of four pages, 42 MB: 14 ms as a new tensor, 1 ms in place),
        else added as y is copied into its layout."""
        channels_last = (x.dim() == 4 and not x.is_contiguous()
                         and x.is_contiguous(memory_format=torch.channels_last))
        layout = torch.channels_last if channels_last else torch.contiguous_format
        if not ops.eager(x):
            y = y if bias is None else y + bias
            return y.contiguous(memory_format=layout)
        if y.is_contiguous(memory_format=layout):
            return y if bias is None else y.add_(bias)
        out = torch.empty_like(y, memory_format=layout)
        return out.copy_(y) if bias is None else torch.add(y, bias, out=out)

    def runs_direct(self) -> bool:
        """Would a call take the direct product (stride 1, a format that gives its entries)?"""
        return self.direct and takes_direct(self.kernel, self.stride)


class SparseConv2d(ConvKernelLayer):
    """A groups-1 Conv2d whose channel-last weight matrix is encoded."""

    def __init__(self, kernel: SparseKernel, conv: nn.Conv2d) -> None:
        super().__init__(kernel, conv.bias)
        self.kernel_size, self.stride = conv.kernel_size, conv.stride
        self.padding, self.dilation = conv.padding, conv.dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        y = conv2d(self.kernel, x, self.kernel_size, self.stride, self.padding, self.dilation,
                   self.graph_product(x), self.direct)
        bias = None if self.bias is None else self.bias.view(1, -1, 1, 1)
        return self.finish(y, bias, x).to(x.dtype)


class SparseConv1d(ConvKernelLayer):
    """A groups-1 Conv1d run as a height-1 Conv2d over its channel-last weight matrix (the same
    matrix: a (C_out, C_in, K) weight flattens as a (C_out, C_in, 1, K) one does)."""

    def __init__(self, kernel: SparseKernel, conv: nn.Conv1d) -> None:
        super().__init__(kernel, conv.bias)
        self.kernel_size, self.stride = (1, conv.kernel_size[0]), (1, conv.stride[0])
        self.padding, self.dilation = (0, int(conv.padding[0])), (1, conv.dilation[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        batched = x if x.dim() == 3 else x.unsqueeze(0)
        y = conv2d(self.kernel, batched.unsqueeze(2), self.kernel_size, self.stride,
                   self.padding, self.dilation, self.graph_product(x), self.direct).squeeze(2)
        y = self.finish(y, None if self.bias is None else self.bias.view(1, -1, 1), batched)
        return (y if x.dim() == 3 else y.squeeze(0)).to(x.dtype)


#: the module types ``sparsify`` replaces, by the sparse layer that replaces each
SPARSE_LAYERS: dict[type[nn.Module], type[KernelLayer]] = {
    nn.Linear: SparseLinear, nn.Conv2d: SparseConv2d, nn.Conv1d: SparseConv1d}


def replaceable(m: nn.Module) -> bool:
    """Can a sparse layer stand in for ``m``: a Linear, or a groups-1 Conv1d/Conv2d with
    zero padding given as sizes (not ``"same"``)?"""
    if isinstance(m, nn.Linear):
        return True
    return (isinstance(m, (nn.Conv1d, nn.Conv2d)) and m.groups == 1
            and m.padding_mode == "zeros" and not isinstance(m.padding, str))


@dataclass
class LayerChoice:
    """What :func:`sparsify` did with one layer, and the times (ms) it measured."""

    name: str
    shape: tuple[int, ...]
    sparsity: float
    chosen: str
    times_ms: dict[str, float]
    #: were the times read from the decision cache (measured by an earlier call)
    cached: bool = False
    #: the timings' noise (largest half interquartile range over a median) and the load average
    #: they were taken under
    noise: float = 0.0
    load: float = 0.0


def pruned_weight(module: nn.Module, name: str = "weight"
                  ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(weight, mask) of a pruned layer's tensor ``name``, or None if it carries no mask and no
    zeros.

    A mask comes from a parametrization with a ``mask`` buffer (sparsegrain's pruner), from
    ``torch.nn.utils.prune`` (``<name>_mask``), or from the zeros of a plain weight.
    """
    weight = getattr(module, name).detach()
    mask = None
    params = getattr(module, "parametrizations", None)
    if params is not None and name in params:
        mask = next((p.mask for p in params[name]
                     if isinstance(getattr(p, "mask", None), torch.Tensor)), None)
        if mask is None:
            mask = weight != 0
    elif isinstance(getattr(module, f"{name}_mask", None), torch.Tensor):
        mask = getattr(module, f"{name}_mask")
    elif bool((weight == 0).any()):
        mask = weight != 0
    if mask is None:
        return None
    mask = mask.bool()
    return torch.where(mask, weight, torch.zeros((), dtype=weight.dtype)), mask


def pruned_layers(model: nn.Module) -> tuple[list[tuple[str, nn.Module]],
                                              list[tuple[str, nn.Module]]]:
    """The (name, module) pairs sparsify replaces: pruned Linear/Conv layers (not those inside
    a MultiheadAttention, which reads out_proj.weight directly), then pruned LSTM/GRU layers."""
    inside_attention = {f"{n}.{c}" if n else c for n, m in model.named_modules()
                        if isinstance(m, nn.MultiheadAttention) for c, _ in m.named_children()}
    layers = [(n, m) for n, m in model.named_modules()
              if replaceable(m) and n not in inside_attention and pruned_weight(m) is not None]
    rnns = [(n, m) for n, m in model.named_modules() if replaceable_rnn(m)
            and any(pruned_weight(m, g) is not None for g in gate_matrices(m))]
    return layers, rnns


def sparsify(
    model: nn.Module,
    format: str = "auto",
    batch: int = 64,
    keep_dense_if_slower: bool = True,
    pattern: str | Pattern | None = None,
    inputs: tuple | torch.Tensor | None = None,
    cache: bool | str | Path = True,
    value_bits: int = 32,
    shrink: bool = False,
) -> nn.Module:
    """Replace, in place, each pruned Linear/Conv1d/Conv2d of ``model`` by a sparse-kernel layer.

    ``format="auto"`` detects which formats hold each layer's mask and times them against the
    dense layer (interleaved medians), keeping the fastest (dense if it wins and
    ``keep_dense_if_slower``); where the mask empties whole output channels or leaves input
    channels unread, the smaller dense layer of the kept channels is a candidate too
    (``"compact"``, :mod:`.compact`; float32 only, and for a convolution only with
    ``inputs``). With ``inputs`` (what ``model(*inputs)`` takes, at the
    deployment batch) each layer is timed as a whole layer on the activations it really
    receives, against torch's own dense layer; without, its matrix is timed on
    ``batch`` random rows. Returns the model; its attribute ``sparsify_report`` lists a
    :class:`LayerChoice` per pruned layer. ``pattern``, the pattern the model was pruned with,
    gives each format the parameters it derives from that pattern (the encoding ``encode`` and
    the sweep use) instead of trying every kernel's ``auto_params``. ``cache`` (True: the
    default cache folder, or a folder) reuses the timings of a layer timed before with the same
    mask, candidates, input shape and thread counts (:mod:`.autotune`); False always times.
    ``value_bits=16`` stores the kernels' values as float16 (float32 accumulation): half the
    value bytes, each weight rounded to 11 significant bits; ``value_bits=4`` shares each
    layer's weights among 15 k-means centroids (and zero) and stores 4-bit codes, an eighth of
    the value bytes, changing the weights as weight sharing does (fine-tune to recover).
    With ``shrink`` (and the model in eval mode) channels that pruning emptied or left unread
    are first cut from the layers on both sides wherever that is exact (:mod:`.shrink`; the
    model's ``shrink_report`` says what was cut and why not elsewhere); the remaining masks
    are then timed as above. Off by default: the layers change shape (``save`` records the
    new sizes, ``load`` gives them to the dense skeleton).
    """
    check_value_bits(value_bits)
    spec = None if pattern is None else make_pattern(pattern)
    if not isinstance(model, nn.Module):
        raise ValueError(f"sparsify takes a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    cuts = shrink_channels(model) if shrink and not model.training else None
    model.shrink_report = cuts  # type: ignore[assignment]
    layers, rnns = pruned_layers(model)
    if not layers and not rnns:
        if cuts is not None and cuts.removed:  # every pruned channel is gone: nothing to time
            model.sparsify_report = []  # type: ignore[assignment]
            return model
        raise ValueError(
            "the model has no pruned Linear, Conv1d, Conv2d, LSTM or GRU layer (no mask "
            "parametrization, no torch.nn.utils.prune mask and no zero weights)"
        )
    seen = {} if inputs is None else module_inputs(model, [n for n, _ in layers + rnns], inputs)
    decisions = None if cache is False else DecisionCache(None if cache is True else cache)
    report = []
    gen = torch.Generator().manual_seed(0)
    for name, module in layers:
        weight, mask = pruned_weight(module)
        kernels = candidates(weight, mask, format, spec, value_bits)
        wrapped = {label: sparse_layer(k, module) for label, k in kernels.items()}
        if name in seen:
            wrapped |= patch_twins(wrapped, kernels, module)
        if (format == "auto" and value_bits == 32 and shrinks(mask)
                and (name in seen or isinstance(module, nn.Linear))):
            wrapped[COMPACT] = CompactLayer(module, weight, mask)
        x = seen[name] if name in seen else torch.randn(
            batch, int(np.prod(weight.shape[1:])), generator=gen)
        fns = layer_calls(module, weight, kernels, wrapped, x, whole=name in seen)
        choice = choose(name, weight, mask, fns, decisions, tuple(x.shape), keep_dense_if_slower)
        if choice.chosen != "dense":
            set_module(model, name, wrapped[choice.chosen])
        report.append(choice)
    for name, rnn in rnns:
        kept, choices = sparse_gates(name, rnn, seen.get(name), format, spec, value_bits,
                                     decisions, keep_dense_if_slower, batch, gen)
        if kept:
            sparse_rnn = SparseRNN(rnn, kept)
            whole = whole_rnn(name, rnn, sparse_rnn, seen.get(name), batch, gen, decisions)
            if whole.chosen != "dense" or not keep_dense_if_slower:
                set_module(model, name, sparse_rnn)
            choices.append(whole)
        report += choices
    if decisions is not None:
        decisions.save()
    model.sparsify_report = report
    return model


def sparse_gates(name: str, rnn: nn.Module, seen: torch.Tensor | None, fmt: str,
                 spec: Pattern | None, value_bits: int, decisions: DecisionCache | None,
                 keep_dense_if_slower: bool, batch: int, gen: torch.Generator
                 ) -> tuple[dict[str, SparseKernel], list[LayerChoice]]:
    """The kernels chosen for a recurrent layer's pruned gate matrices, each timed on the rows
    it multiplies in one call (:func:`gate_rows`), and the choices."""
    kept: dict[str, SparseKernel] = {}
    choices = []
    for gate in gate_matrices(rnn):
        found = pruned_weight(rnn, gate)
        if found is None:
            continue
        weight, mask = found
        kernels = candidates(weight, mask, fmt, spec, value_bits)
        x = gate_rows(rnn, gate, seen, batch, gen)
        fns = matrix_calls(x, weight, kernels)
        choice = choose(f"{name}.{gate}", weight, mask, fns, decisions, tuple(x.shape),
                        keep_dense_if_slower)
        if choice.chosen != "dense":
            kept[gate] = kernels[choice.chosen]
        choices.append(choice)
    return kept, choices


def patch_twins(wrapped: dict[str, nn.Module], kernels: dict[str, SparseKernel],
                module: nn.Module) -> dict[str, nn.Module]:
    """For each sparse convolution that would run directly, the same layer on patches, labelled
    ``<format> patches``: which is faster depends on the layer's depth and maps (the direct
    product 1.9x the patches on large shallow maps, slower on small deep ones)."""
    twins: dict[str, nn.Module] = {}
    for label, layer in wrapped.items():
        if isinstance(layer, ConvKernelLayer) and layer.runs_direct():
            twin = sparse_layer(kernels[label], module)
            twin.direct = False
            twins[f"{label} patches"] = twin
    return twins


def layer_calls(module: nn.Module, weight: torch.Tensor, kernels: dict[str, SparseKernel],
                wrapped: dict[str, nn.Module], x: torch.Tensor, whole: bool
                ) -> dict[str, Callable[[], object]]:
    """A layer's candidates as calls to time on ``x``: with ``whole``, torch's dense layer and
    every replacement layer on the input the layer really receives; else the weight's 2-D view
    on random rows (:func:`matrix_calls`), a compact layer (a Linear's) as a layer."""
    if whole:
        return {"dense": dense_layer(module, weight, x),
                **{label: (lambda m=m: m(x)) for label, m in wrapped.items()}}
    fns = matrix_calls(x, weight, kernels)
    if COMPACT in wrapped:
        fns[COMPACT] = lambda m=wrapped[COMPACT]: m(x)
    return fns


def matrix_calls(x: torch.Tensor, weight: torch.Tensor, kernels: dict[str, SparseKernel]
                 ) -> dict[str, Callable[[], object]]:
    """Rows ``x`` times a weight's 2-D view, dense and by each candidate kernel, as calls to
    time."""
    dense = weight.reshape(weight.shape[0], -1).float()
    return {"dense": lambda: x @ dense.T,
            **{label: (lambda k=k: k.linear(x)) for label, k in kernels.items()}}


def whole_rnn(name: str, rnn: nn.Module, sparse: SparseRNN, seen: torch.Tensor | None,
              batch: int, gen: torch.Generator, decisions: DecisionCache | None) -> LayerChoice:
    """The recurrent layer as a whole, torch's own (its fused steps) against the sparse one (its
    steps in Python, its products on the kernels), on the input it really receives: the gates
    may each win and the layer still lose. Cached like a layer's decision, keyed by every gate
    matrix's mask and the kernels chosen for them."""
    x = seen if seen is not None else torch.randn(batch, 1, rnn.input_size, generator=gen)
    gates = [getattr(rnn, g).detach() for g in gate_matrices(rnn)]
    mask = torch.cat([(g != 0).reshape(-1) for g in gates])[None]
    labels = [f"{g}:{k.fmt}" for g, k in sparse.kernels.items()]
    decision, cached = decide({"dense": lambda: rnn(x), "sparse gates": lambda: sparse(x)},
                              decisions, mask, labels, tuple(x.shape))
    times = decision.times
    chosen = "sparse gates" if times["sparse gates"] < times["dense"] else "dense"
    return LayerChoice(name, (rnn.hidden_size, rnn.input_size), 1.0 - float(mask.float().mean()),
                       chosen, times, cached, decision.noise, decision.load)


def choose(name: str, weight: torch.Tensor, mask: torch.Tensor, fns: dict[str, Callable[[], object]],
           decisions: DecisionCache | None, input_shape: tuple[int, ...],
           keep_dense_if_slower: bool) -> LayerChoice:
    """One weight's choice among its candidates (``fns``, "dense" among them): the fastest
    kernel, or dense where it is faster and ``keep_dense_if_slower``."""
    decision, cached = decide(fns, decisions, mask, [k for k in fns if k != "dense"], input_shape)
    times = decision.times
    sparse = min((t, label) for label, t in times.items() if label != "dense")[1]
    chosen = "dense" if keep_dense_if_slower and times["dense"] < times[sparse] else sparse
    return LayerChoice(name, tuple(weight.shape), 1.0 - float(mask.float().mean()), chosen, times,
                       cached, decision.noise, decision.load)


def gate_rows(rnn: nn.Module, gate: str, seen: torch.Tensor | None, batch: int,
              gen: torch.Generator) -> torch.Tensor:
    """The rows a gate matrix multiplies in one call: the input sequence's (steps x batch) for
    the first layer's input projection (the real input where one was seen), random rows of that
    many for a deeper layer's, and the batch's hidden states for a recurrent one."""
    cols = getattr(rnn, gate).shape[1]
    if seen is None:
        steps, sequences = batch, 1
    elif seen.dim() == 3:
        steps, sequences = (seen.shape[1], seen.shape[0]) if rnn.batch_first else seen.shape[:2]
    else:
        steps, sequences = seen.shape[0], 1
    if gate.startswith("weight_hh"):
        return torch.randn(sequences, cols, generator=gen)
    if gate in ("weight_ih_l0", "weight_ih_l0_reverse") and seen is not None:
        return seen.reshape(-1, cols).float()
    return torch.randn(steps * sequences, cols, generator=gen)


def decide(fns: dict[str, Callable[[], object]], decisions: DecisionCache | None, mask: torch.Tensor,
           labels: list[str], input_shape: tuple[int, ...]) -> tuple[Decision, bool]:
    """The timings of one layer's candidates: a cached decision where one holds, else timed now
    (and cached); with whether it came from the cache."""
    key = None if decisions is None else decision_key(mask, labels, input_shape)
    decision = None if key is None else decisions.get(key)
    if decision is not None and set(decision.times) == set(fns) and decision.holds(load_now()):
        return decision, True
    with torch.no_grad():
        samples = interleaved_samples(fns, rounds=7, warmup=1)
    decision = Decision({k: statistics.median(v) for k, v in samples.items()},
                        max(spread(v) for v in samples.values()), load_now())
    if key is not None:
        decisions.put(key, decision)
    return decision, False


def sparse_layer(kernel: SparseKernel, module: nn.Module) -> nn.Module:
    """The kernel-backed replacement of a Linear, Conv1d or Conv2d."""
    cls = next(v for k, v in SPARSE_LAYERS.items() if isinstance(module, k))
    return SparseLinear(kernel, module.bias) if cls is SparseLinear else cls(kernel, module)


def dense_layer(module: nn.Module, weight: torch.Tensor, x: torch.Tensor):
    """torch's dense Linear/Conv1d/Conv2d with the (masked) ``weight`` on ``x``, as a call to
    time."""
    w = weight.float()
    if isinstance(module, nn.Linear):
        return lambda: F.linear(x, w, module.bias)
    conv = F.conv1d if isinstance(module, nn.Conv1d) else F.conv2d
    return lambda: conv(x, w, module.bias, module.stride, module.padding, module.dilation)


def set_module(model: nn.Module, name: str, new: nn.Module) -> None:
    """Put ``new`` at the dotted path ``name`` inside ``model``."""
    parent, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, new)
