"""End-to-end MiniLM (all-MiniLM-L6-v2, bundled) embedding throughput: dense vs pruned-and-sparsified.

Every Linear of the encoder is pruned to the target sparsity with each pattern, then
``sparsegrain.deploy.sparsify`` swaps in the sparse kernels (format chosen per layer by timing
at the number of token rows one batch feeds each Linear, dense kept where it is faster). Prints
sentences per second, the speedup over the dense model, how many layers went sparse, and the
largest difference to the pruned dense model's embeddings. The dense, pruned and sparsified
models of a row are timed in turn in every round (interleaved medians), so a change of machine
load falls on all three alike.

    HF_HUB_OFFLINE=1 PYTHONPATH=src python benchmarks/minilm_sparsify.py --sparsity 0.8,0.9
    (``--patterns unstructured,gs:8:1`` for a subset, ``--batch 1`` for one sentence a call)
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from sparsegrain.core.timing import interleaved_ms  # noqa: E402
from sparsegrain.deploy import sparsify  # noqa: E402
from sparsegrain.patterns import pattern  # noqa: E402
from sparsegrain.workloads.weights import minilm_dir  # noqa: E402

#: pattern per target sparsity; N:M uses the nearest ratio that tiles 384 and 1536 inputs
PATTERNS = {
    0.8: ["unstructured", "block:4x4", "nm:3:16", "gs:8:1", "csp:8"],
    0.9: ["unstructured", "block:4x4", "nm:3:32", "gs:8:1", "csp:8"],
}
WORDS = ("sparse kernels make pruned models faster on the processors people already own while "
         "structured patterns keep accuracy close to unstructured pruning").split()


def sentences(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(8, 24)))) for _ in range(n)]


def throughputs(models: dict, texts: list[str], batch: int, reps: int) -> dict[str, float]:
    """Sentences per second of each model, its passes interleaved with the others' (medians)."""
    ms = interleaved_ms({name: (lambda m=m: m.encode(texts, batch_size=batch))
                         for name, m in models.items()}, rounds=reps, warmup=1)
    return {name: len(texts) / (t / 1e3) for name, t in ms.items()}


def prune_linears(model, spec: str, sparsity: float) -> None:
    """Zero every encoder Linear's weights with ``spec`` at ``sparsity`` (magnitude scores)."""
    p = pattern(spec)
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, torch.nn.Linear) and ".encoder." in f".{name}":
                m.weight.mul_(p.mask(m.weight, sparsity))


def main() -> None:
    from sentence_transformers import SentenceTransformer

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sparsity", default="0.8,0.9")
    ap.add_argument("--sentences", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--patterns", default="", help="comma-separated subset of each sparsity's "
                    "patterns (default: all of them)")
    args = ap.parse_args()
    console = Console()
    texts = sentences(args.sentences)
    load = lambda: SentenceTransformer(str(minilm_dir()), device="cpu")  # noqa: E731
    dense = load()
    # the Linear layers see (sentences x padded tokens) rows: time the formats at that batch
    ids = dense.tokenizer(texts[: args.batch], padding=True, return_tensors="pt")["input_ids"]
    rows = int(ids.numel())
    console.print(f"{rows} token rows per batch")
    table = Table(title=f"MiniLM-L6 embeddings, {args.sentences} sentences, batch {args.batch}, "
                        "dense / pruned / sparsified interleaved")
    for col in ("pattern", "sparsity", "dense /s", "pruned dense /s", "sparsified /s", "x dense",
                "layers sparse", "formats", "max |diff|"):
        table.add_column(col, justify="left" if col in ("pattern", "formats") else "right")
    for s in (float(v) for v in args.sparsity.split(",")):
        chosen_patterns = [p for p in args.patterns.split(",") if p] or PATTERNS[s]
        for spec in [p for p in PATTERNS[s] if p in chosen_patterns]:

            pruned, model = load(), load()
            prune_linears(pruned, spec, s)
            prune_linears(model, spec, s)
            sparsify(model, format="auto", batch=rows)
            report = model.sparsify_report
            tps = throughputs({"dense": dense, "pruned": pruned, "sparse": model}, texts,
                              args.batch, args.reps)
            want = pruned.encode(texts, batch_size=args.batch, convert_to_numpy=True)
            got = model.encode(texts, batch_size=args.batch, convert_to_numpy=True)
            chosen = sorted({c.chosen for c in report if c.chosen != "dense"})
            row = [spec, f"{s:.0%}", f"{tps['dense']:.1f}", f"{tps['pruned']:.1f}",
                   f"{tps['sparse']:.1f}", f"{tps['sparse'] / tps['dense']:.2f}",
                   f"{sum(c.chosen != 'dense' for c in report)}/{len(report)}",
                   ",".join(chosen) or "-", f"{np.abs(got - want).max():.1e}"]
            console.print(" | ".join(row))  # each result as soon as it is measured
            table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
