"""Filter pruning made physically smaller: a CNN with a share of the filters of every layer
pruned, run four ways in one process, interleaved (medians): dense torch on the unpruned shapes;
``sparsify`` without shrinking (each pruned layer timed against its compact dense layer and the
sparse kernels); ``shrink`` alone (the emptied channels cut from both sides, dense torch on the
smaller layers); and ``sparsify(shrink=True)``. Outputs are checked equal first. Load average
printed. ``--model vgg``: a VGG-11-BN-style CNN with seeded weights and BatchNorm statistics;
``--model ocr-crnn`` / ``craft``: the real EasyOCR recognizer or CRAFT detector, their prunable
convolutions pruned one-shot by filter norm (a speed measurement: no fine-tuning, so accuracy is
not the point), on their own sample inputs (32 rendered words, 8 rendered pages).

    PYTHONPATH=src python benchmarks/shrink.py [--model vgg|ocr-crnn|craft] [--keep 0.5]
"""

from __future__ import annotations

import argparse
import copy
import os

import torch
from torch import nn

from sparsegrain import pattern
from sparsegrain.core.timing import interleaved_ms
from sparsegrain.deploy import sparsify
from sparsegrain.deploy.shrink import shrink

#: VGG-11's convolution widths, max pooling after each stage
STAGES = ((64,), (128,), (256, 256), (512, 512), (512, 512))


def vgg(size: int) -> nn.Sequential:
    """VGG-11 with BatchNorm on ``size`` x ``size`` inputs, a 10-way head."""
    layers: list[nn.Module] = []
    cin = 3
    for widths in STAGES:
        for w in widths:
            layers += [nn.Conv2d(cin, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU()]
            cin = w
        layers.append(nn.MaxPool2d(2))
    side = size // 2 ** len(STAGES)
    layers += [nn.Flatten(), nn.Linear(cin * side * side, 512), nn.ReLU(), nn.Linear(512, 10)]
    return nn.Sequential(*layers)


def pruned_vgg(size: int, keep: float) -> nn.Sequential:
    """Seeded weights and BatchNorm statistics; every layer but the last loses the filters of
    smallest norm (the ``filter`` pattern), keeping ``keep`` of them."""
    torch.manual_seed(0)
    model = vgg(size)
    convs = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))][:-1]
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        for m in convs:
            m.weight.mul_(pattern("filter").mask(m.weight, 1 - keep))
    return model.eval()


def pruned_real(name: str, keep: float) -> tuple[nn.Module, tuple]:
    """Built-in model ``name`` with ``keep`` of the filters of each prunable convolution, and
    its sample inputs."""
    from sparsegrain import workloads

    spec = workloads.get(name)
    model = spec.load()
    convs = [n for n in spec.prunable(model) if isinstance(model.get_submodule(n), nn.Conv2d)]
    spec.prune(model, {"pattern": "filter", "sparsity": 1 - keep, "layers": convs}, steps=0)
    return model.eval(), spec.sample_inputs()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=("vgg", "ocr-crnn", "craft"), default="vgg")
    ap.add_argument("--batch", type=int, default=8, help="images (vgg)")
    ap.add_argument("--size", type=int, default=64, help="image side (vgg)")
    ap.add_argument("--keep", type=float, default=0.5)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    if args.model == "vgg":
        base = pruned_vgg(args.size, args.keep)
        inputs: tuple = (torch.randn(args.batch, 3, args.size, args.size),)
    else:
        base, inputs = pruned_real(args.model, args.keep)
    run(base, inputs, args)


def run(base: nn.Module, inputs: tuple, args: argparse.Namespace) -> None:
    """The four ways, checked equal, then timed."""
    models = {"dense": copy.deepcopy(base)}
    models["sparsify"] = sparsify(copy.deepcopy(base), inputs=inputs, cache=False)
    models["shrink"] = copy.deepcopy(base)
    report = shrink(models["shrink"])
    models["sparsify+shrink"] = sparsify(copy.deepcopy(base), inputs=inputs, cache=False,
                                         shrink=True)
    with torch.no_grad():
        ref = base(*inputs)
        for name, m in models.items():
            torch.testing.assert_close(m(*inputs), ref, atol=1e-3, rtol=1e-3, msg=name)
        print(f"{args.model}, inputs {tuple(inputs[0].shape)}, torch threads "
              f"{torch.get_num_threads()}, {args.keep:.0%} of filters kept; channels cut "
              f"{report.removed}; load average {os.getloadavg()[0]:.2f}")
        ms = interleaved_ms({n: (lambda m=m: m(*inputs)) for n, m in models.items()},
                            args.rounds)
    for name, t in ms.items():
        print(f"{name:>16s} {t:8.2f} ms  {ms['dense'] / t:5.2f}x dense")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
