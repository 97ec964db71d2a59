"""A pruned real network end to end on this CPU: MiniLM's encoder pruned, sparsified and run as
a torch module, against the same model dense in torch and dense in onnxruntime.

all-MiniLM-L6-v2 (bundled weights): every encoder Linear pruned to each sparsity with each
pattern (magnitude), then ``sparsegrain.sparsify`` (format per layer by timing on the rows that
layer really receives, dense kept where faster). The encoder's forward on pre-tokenised input
(token ids and mask; tokenising and pooling left out, as they are the same for every engine) at
one sentence and at a batch of sentences; every engine timed in turn in every round
(interleaved medians), load printed. onnxruntime runs the dense encoder exported with
``torch.onnx.export`` (all graph optimisations, torch's thread count). DeepSparse runs in its
own environment (docs/performance.md).

    HF_HUB_OFFLINE=1 PYTHONPATH=src python benchmarks/end_to_end.py [--sparsity 0.8,0.9]
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from sparsegrain.core.timing import interleaved_ms  # noqa: E402
from sparsegrain.deploy import sparsify  # noqa: E402
from sparsegrain.patterns import pattern  # noqa: E402
from sparsegrain.workloads.weights import minilm_dir  # noqa: E402

WORDS = ("sparse kernels make pruned models faster on the processors people already own while "
         "structured patterns keep accuracy close to unstructured pruning").split()


class Encoder(nn.Module):
    """The transformer's forward on token ids and mask, its last hidden state."""

    def __init__(self, bert: nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.bert(input_ids=ids, attention_mask=mask).last_hidden_state


def prune_linears(model: nn.Module, spec: str, sparsity: float) -> None:
    """Zero every encoder Linear's weights with ``spec`` at ``sparsity`` (magnitude scores)."""
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear) and "encoder" in name:
            with torch.no_grad():
                m.weight *= pattern(spec).mask(m.weight, sparsity)


def onnx_session(model: nn.Module, feed: tuple[torch.Tensor, torch.Tensor]):
    """An onnxruntime session on ``model`` exported dense, at torch's thread count."""
    import onnxruntime as ort

    path = os.path.join(tempfile.mkdtemp(), "encoder.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, feed, path, input_names=["ids", "mask"], output_names=["out"],
                          dynamic_axes={"ids": {0: "b", 1: "t"}, "mask": {0: "b", 1: "t"}},
                          opset_version=17, dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def row(spec: str, sparsity: float, batch: int, dense: Encoder, tokenizer, rounds: int) -> str:
    """One line: each engine's ms per call at ``batch`` sentences and the ratios."""
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(WORDS, size=int(rng.integers(8, 24)))) for _ in range(batch)]
    tok = tokenizer(texts, padding=True, return_tensors="pt")
    feed = (tok["input_ids"], tok["attention_mask"])
    pruned = copy.deepcopy(dense)
    prune_linears(pruned, spec, sparsity)
    sparse = copy.deepcopy(pruned)
    sparsify(sparse, inputs=feed)
    session = onnx_session(dense, feed)
    onnx_feed = {"ids": feed[0].numpy(), "mask": feed[1].numpy()}
    with torch.no_grad():
        diff = float((sparse(*feed) - pruned(*feed)).abs().max())
        ms = interleaved_ms({"torch dense": lambda: dense(*feed),
                             "onnxruntime dense": lambda: session.run(None, onnx_feed),
                             "sparsegrain": lambda: sparse(*feed)}, rounds=rounds)
    layers = sparse.sparsify_report
    kept = sum(c.chosen != "dense" for c in layers)
    return (f"| {spec} | {sparsity:.0%} | {batch} | {ms['torch dense']:.2f} | "
            f"{ms['onnxruntime dense']:.2f} | {ms['sparsegrain']:.2f} | "
            f"{ms['torch dense'] / ms['sparsegrain']:.2f}x | "
            f"{ms['onnxruntime dense'] / ms['sparsegrain']:.2f}x | {kept}/{len(layers)} | "
            f"{diff:.1e} |")


def main() -> None:
    from sentence_transformers import SentenceTransformer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sparsity", default="0.9")
    ap.add_argument("--patterns", default="unstructured,gs:8:1,block:4x4")
    ap.add_argument("--batch", default="1,32")
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    st = SentenceTransformer(str(minilm_dir()), device="cpu")
    dense = Encoder(st[0].auto_model).eval()
    print(f"MiniLM-L6 encoder, torch threads {torch.get_num_threads()}; load average "
          f"{os.getloadavg()[0]:.2f}")
    print("| pattern | sparsity | sentences | torch dense ms | onnxruntime dense ms | "
          "sparsegrain ms | vs torch | vs onnxruntime | layers sparse | max diff |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for s in (float(v) for v in args.sparsity.split(",")):
        for spec in args.patterns.split(","):
            for batch in (int(b) for b in args.batch.split(",")):
                print(row(spec, s, batch, dense, st.tokenizer, args.rounds), flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
