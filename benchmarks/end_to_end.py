"""Pruned real networks end to end on this CPU: each pruned, sparsified and called as a torch
module, against the same model dense in torch, in onnxruntime and in DeepSparse.

Networks: all-MiniLM-L6-v2's encoder (bundled weights; pre-tokenised sentences, tokenising and
pooling left out, as they are the same for every engine), the ocr-crnn recognizer (CNN + BiLSTM,
rendered word images) and the CRAFT detector (VGG16-BN U-Net, rendered pages). Each network's
prunable layers (every encoder Linear; the workload's own list for the other two) are pruned
one-shot by magnitude with each pattern and sparsity, then ``sparsegrain.sparsify`` picks a
format per layer by timing on the rows that layer really receives (dense kept where faster).

Engines, all on 2 threads (torch's count) and timed in turn in every round, the order reversed
every other round (medians over rounds of per-round medians; load average printed):
torch dense; onnxruntime on the pruned model exported to ONNX (all graph optimisations; with
thread spinning on and off, the faster taken: spinning is its default and faster alone, but its
idle threads hold the cores while the next engine runs); DeepSparse 1.8.0 on the same ONNX file
(its sparse kernels find the zeros), in its own venv given by ``--deepsparse-python``;
sparsegrain. onnxruntime and DeepSparse each run in a child process of their own
(:mod:`_peer_process`), as a user would run them, so that neither changes the torch process the
other two share. Outputs are checked against the pruned model's.

    HF_HUB_OFFLINE=1 PYTHONPATH=src python benchmarks/end_to_end.py \\
        [--models minilm,ocr-crnn,craft] [--patterns unstructured,gs:8:1,block:4x4] \\
        [--sparsity 0.8,0.9] [--deepsparse-python /tmp/ds/bin/python] [--plot e2e.png]
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import math
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _peer_process import DeepSparse, OnnxRuntime, PeerProcess  # noqa: E402  (the sibling)
from torch import nn  # noqa: E402

from sparsegrain.core.timing import call_times  # noqa: E402
from sparsegrain.deploy import sparsify  # noqa: E402
from sparsegrain.patterns import pattern  # noqa: E402

WORDS = ("sparse kernels make pruned models faster on the processors people already own while "
         "structured patterns keep accuracy close to unstructured pruning").split()


class Encoder(nn.Module):
    """The transformer's forward on token ids and mask, its last hidden state."""

    def __init__(self, bert: nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.bert(input_ids=ids, attention_mask=mask).last_hidden_state


@dataclass
class Network:
    """A dense model, its inputs for a batch of ``batch`` items, and how it is pruned."""

    name: str
    model: nn.Module
    feed: Callable[[int], tuple[torch.Tensor, ...]]
    prune: Callable[[nn.Module, str, float], None]
    unit: str
    batches: tuple[int, ...]


def minilm() -> Network:
    from sentence_transformers import SentenceTransformer

    from sparsegrain.workloads.weights import minilm_dir

    st = SentenceTransformer(str(minilm_dir()), device="cpu")

    def feed(batch: int) -> tuple[torch.Tensor, ...]:
        rng = np.random.default_rng(0)
        texts = [" ".join(rng.choice(WORDS, size=int(rng.integers(8, 24)))) for _ in range(batch)]
        tok = st.tokenizer(texts, padding=True, return_tensors="pt")
        return tok["input_ids"], tok["attention_mask"]

    def prune(model: nn.Module, spec: str, sparsity: float) -> None:
        for name, m in model.named_modules():
            if isinstance(m, nn.Linear) and "encoder" in name:
                with torch.no_grad():
                    m.weight *= pattern(spec).mask(m.weight, sparsity)

    return Network("minilm", Encoder(st[0].auto_model).eval(), feed, prune, "sentences", (1, 32))


def workload(name: str) -> Network:
    """ocr-crnn or craft, pruned one-shot on the workload's own prunable layers."""
    from sparsegrain.prune import PruneConfig
    from sparsegrain.workloads.models import get

    spec = get(name)
    images = spec.sample_inputs()[0]

    def feed(batch: int) -> tuple[torch.Tensor, ...]:
        return (images.repeat(-(-batch // len(images)), *[1] * (images.dim() - 1))[:batch],)

    def prune(model: nn.Module, pat: str, sparsity: float) -> None:
        spec.prune(model, PruneConfig(pattern=pat, sparsity=sparsity), steps=0)

    return Network(name, spec.load(), feed, prune, "images", (1, 16))


NETWORKS = {"minilm": minilm, "ocr-crnn": lambda: workload("ocr-crnn"),
            "craft": lambda: workload("craft")}


def export(model: nn.Module, feed: tuple[torch.Tensor, ...], path: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, feed, path, input_names=[f"in{i}" for i in range(len(feed))],
                          opset_version=17, dynamo=False)


def peers(path: str, feed: tuple[torch.Tensor, ...], batch: int, args: argparse.Namespace
          ) -> dict[str, PeerProcess]:
    """onnxruntime on ``path`` with thread spinning on and off (where it is installed) and
    DeepSparse (where ``--deepsparse-python`` names its venv), each in a child process."""
    inputs, threads = [t.numpy() for t in feed], torch.get_num_threads()
    out = {}
    if importlib.util.find_spec("onnxruntime") is not None:
        for spin in ("1", "0"):
            out[f"onnxruntime spin {spin}"] = OnnxRuntime(path, inputs, batch, threads, spin)
    if args.deepsparse_python:
        out["deepsparse"] = DeepSparse(args.deepsparse_python, path, inputs, batch, threads)
    return out


def timed_rounds(engines: dict[str, Callable[[], object]], children: dict[str, PeerProcess],
                 rounds: int) -> dict[str, float]:
    """Median ms per call of every engine over ``rounds`` rounds, each round a median of as many
    calls as take about 0.3 s (3 to 15), the engines in turn, reversed every other round."""
    one = {n: min(call_times(fn, 2, warmup=1)) for n, fn in engines.items()}
    calls = max(3, min(15, math.ceil(0.3 / max(one.values()))))
    names = [*engines, *children]
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for n in names if r % 2 == 0 else names[::-1]:
            samples[n].append(children[n].ms(calls) if n in children else
                              statistics.median(call_times(engines[n], calls, warmup=0)) * 1e3)
    return {n: statistics.median(v) for n, v in samples.items()}


def row(net: Network, spec: str, sparsity: float, batch: int, args: argparse.Namespace
        ) -> tuple[str, dict[str, float]]:
    """One table line (each engine's ms per call at ``batch`` items and sparsegrain's ratios)
    and the engines' ms by name (onnxruntime: the faster of its two runs)."""
    feed = net.feed(batch)
    pruned = copy.deepcopy(net.model)
    net.prune(pruned, spec, sparsity)
    sparse = copy.deepcopy(pruned)
    sparsify(sparse, inputs=feed)
    with torch.no_grad():
        want = pruned(*feed)
        diff = float((sparse(*feed) - want).abs().max())
    scale = float(want.abs().max())
    engines = {"torch dense": lambda: net.model(*feed), "sparsegrain": lambda: sparse(*feed)}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        export(pruned, feed, path)
        children = peers(path, feed, batch, args)
        try:
            with torch.no_grad():
                ms = timed_rounds(engines, children, args.rounds)
            for name, child in children.items():
                got = child.output()
                if not np.allclose(got, want.numpy(), atol=1e-3 * scale, rtol=1e-3):
                    print(f"  {name} output differs from the pruned model's by "
                          f"{np.abs(got - want.numpy()).max():.1e}")
        finally:
            for child in children.values():
                child.close()
    ort_ms = min((v for k, v in ms.items() if k.startswith("onnxruntime")), default=math.nan)
    ds_ms = ms.get("deepsparse", math.nan)
    ours = ms["sparsegrain"]
    kept = sum(c.chosen != "dense" for c in sparse.sparsify_report)
    line = (f"| {net.name} | {spec} | {sparsity:.0%} | {batch} {net.unit} | "
            f"{ms['torch dense']:.2f} | {ort_ms:.2f} | {ds_ms:.2f} | {ours:.2f} | "
            f"{ms['torch dense'] / ours:.2f}x | {ort_ms / ours:.2f}x | {ds_ms / ours:.2f}x | "
            f"{kept}/{len(sparse.sparsify_report)} | {diff / scale:.1e} |")
    return line, {"torch dense": ms["torch dense"], "onnxruntime": ort_ms, "deepsparse": ds_ms,
                  "sparsegrain": ours}


def plot(results: dict[tuple[str, str], dict[str, dict[str, float]]], out: str) -> None:
    """One panel per network and batch: each engine's speed over dense torch's (higher is
    faster) for every pattern and sparsity, as grouped bars, written to ``out`` (PNG or PDF)
    atomically."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sparsegrain.core.files import write_atomic

    engines = ("onnxruntime", "deepsparse", "sparsegrain")
    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.4), squeeze=False)
    for ax, ((network, batch), points) in zip(axes[0], results.items()):
        labels = list(points)
        for k, engine in enumerate(engines):
            speed = [points[p]["torch dense"] / points[p][engine] for p in labels]
            ax.bar([i + (k - 1) * 0.27 for i in range(len(labels))], speed, width=0.27,
                   label=engine)
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        ax.set_title(f"{network}, {batch}", fontsize=10)
        ax.set_ylabel("speed over dense torch (x)")
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", ncol=len(engines), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    buf = io.BytesIO()
    kind = os.path.splitext(out)[1].lstrip(".").lower() or "png"
    fig.savefig(buf, format=kind, dpi=150)
    plt.close(fig)
    path = write_atomic(os.path.dirname(os.path.abspath(out)), os.path.basename(out),
                        buf.getvalue())
    print(f"plot: {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="minilm,ocr-crnn,craft")
    ap.add_argument("--patterns", default="unstructured,gs:8:1,block:4x4")
    ap.add_argument("--sparsity", default="0.8,0.9")
    ap.add_argument("--batch", default=None,
                    help="batch sizes (default: 1 and 32 sentences, 1 and 16 images)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--deepsparse-python", default=None, help="python of a deepsparse venv")
    ap.add_argument("--plot", default=None,
                    help="also draw each engine's speed over dense torch into this PNG or PDF")
    args = ap.parse_args()
    if args.plot and os.path.splitext(args.plot)[1].lower() not in (".png", ".pdf"):
        ap.error(f"--plot takes a .png or .pdf file name, got {args.plot!r}")
    unknown = set(args.models.split(",")) - set(NETWORKS)
    if unknown:
        ap.error(f"unknown model(s) {', '.join(sorted(unknown))}; valid: {', '.join(NETWORKS)}")
    print(f"torch threads {torch.get_num_threads()}; load average {os.getloadavg()[0]:.2f}; "
          f"DeepSparse {'in ' + args.deepsparse_python if args.deepsparse_python else 'left out'}")
    print("| network | pattern | sparsity | batch | torch dense ms | onnxruntime ms | "
          "deepsparse ms | sparsegrain ms | vs torch | vs onnxruntime | vs deepsparse | "
          "layers sparse | max diff / max |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    start = time.perf_counter()
    jobs = [(m, s, p) for m in args.models.split(",") for s in args.sparsity.split(",")
            for p in args.patterns.split(",")]
    loaded: dict[str, Network] = {}
    results: dict[tuple[str, str], dict[str, dict[str, float]]] = {}
    for i, (m, s, p) in enumerate(jobs):
        if m not in loaded:
            loaded.clear()  # one network in memory at a time
            loaded[m] = NETWORKS[m]()
        net = loaded[m]
        batches = [int(b) for b in args.batch.split(",")] if args.batch else net.batches
        for b in batches:
            line, ms = row(net, p, float(s), b, args)
            print(line, flush=True)
            results.setdefault((m, f"{b} {net.unit}"), {})[f"{p} {float(s):.0%}"] = ms
        spent = time.perf_counter() - start
        print(f"  [{i + 1}/{len(jobs)} pattern-sparsity pairs, {spent / 60:.1f} min; about "
              f"{spent / (i + 1) * (len(jobs) - i - 1) / 60:.0f} min left; load "
              f"{os.getloadavg()[0]:.2f}]", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.plot:
        plot(results, args.plot)


if __name__ == "__main__":
    main()
