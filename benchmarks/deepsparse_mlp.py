"""A pruned 4096-wide MLP on the project's kernels against DeepSparse, onnxruntime and dense torch.

Three 4096 x 4096 Linear layers (ReLU between), each pruned to 90 % by magnitude (unstructured),
batch 64, float32, every engine on the same weights: dense torch, ``sparsify`` (CSR kernels, with
float32 values and with 16-bit ones, the latter checked against the float16-rounded weights),
onnxruntime on the exported ONNX graph, and DeepSparse 1.8.0 (the last release that installs;
run in its own virtual environment, named by ``--deepsparse-python``: :mod:`_peer_process`).
DeepSparse runs in a child process, so the engines alternate by round (``--rounds``) rather
than by call; each round's figure is a median of 15 calls after 3 warm-up calls; the table
gives the medians.

    python -m venv /tmp/ds && /tmp/ds/bin/pip install deepsparse==1.8.0
    PYTHONPATH=src python benchmarks/deepsparse_mlp.py --deepsparse-python /tmp/ds/bin/python
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch
from _peer_process import DeepSparse  # the sibling script
from torch import nn

import sparsegrain as sg
from sparsegrain.core.timing import call_times
from sparsegrain.deploy import sparsify


def model(width: int, sparsity: float) -> nn.Module:
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                        nn.Linear(width, width)).eval()
    for layer in mlp:
        if isinstance(layer, nn.Linear):
            with torch.no_grad():
                layer.weight *= sg.pattern("unstructured").mask(layer.weight, sparsity)
    return mlp


def median_call_ms(fn) -> float:
    """Median ms of 15 calls after 3 warm-up calls (the child's rule for DeepSparse)."""
    return statistics.median(call_times(fn, 15, warmup=3)) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--deepsparse-python", default=None, help="python of a deepsparse venv")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--width", type=int, default=4096)
    ap.add_argument("--sparsity", type=float, default=0.9)
    args = ap.parse_args()
    dense = model(args.width, args.sparsity)
    x = torch.randn(args.batch, args.width, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = dense(x).numpy()
    fast = sparsify(model(args.width, args.sparsity), format="csr", keep_dense_if_slower=False)
    fast16 = sparsify(model(args.width, args.sparsity), format="csr", keep_dense_if_slower=False,
                      value_bits=16)
    rounded = model(args.width, args.sparsity)  # the weights the 16-bit kernels hold
    with torch.no_grad():
        for layer in rounded:
            if isinstance(layer, nn.Linear):
                layer.weight.copy_(layer.weight.half().float())
        want16 = rounded(x).numpy()
    engines = {"torch dense": lambda: dense(x), "sparsegrain": lambda: fast(x),
               "sparsegrain fp16": lambda: fast16(x)}
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = str(Path(tmp) / "mlp.onnx")
        torch.onnx.export(dense, (x,), onnx_path, input_names=["x"], output_names=["y"],
                          dynamo=False, opset_version=17)
        try:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = torch.get_num_threads()
            session = ort.InferenceSession(onnx_path, opts, providers=["CPUExecutionProvider"])
            engines["onnxruntime"] = lambda: session.run(None, {"x": x.numpy()})
        except ImportError:
            print("onnxruntime not installed: left out")
        times: dict[str, list[float]] = {n: [] for n in engines}
        deepsparse = None
        if args.deepsparse_python:
            times["deepsparse 1.8.0"] = []
            deepsparse = DeepSparse(args.deepsparse_python, onnx_path, [x.numpy()], args.batch,
                                    torch.get_num_threads())
        with torch.no_grad():
            assert np.allclose(fast(x).numpy(), want, rtol=1e-3, atol=1e-3)
            assert np.allclose(fast16(x).numpy(), want16, rtol=1e-3, atol=1e-3)
            for r in range(args.rounds):
                print(f"round {r + 1}/{args.rounds} (about {20 * (args.rounds - r)} s left)",
                      flush=True)
                for name, fn in engines.items():
                    times[name].append(median_call_ms(fn))
                if deepsparse is not None:
                    deepsparse.ms(3)  # its warm-up, as the others' median_call_ms has
                    times["deepsparse 1.8.0"].append(deepsparse.ms(15))
        if deepsparse is not None:
            assert np.allclose(deepsparse.output(), want, rtol=1e-3, atol=1e-3)
            deepsparse.close()
    med = {n: statistics.median(t) for n, t in times.items()}
    print(f"\n{args.width}-wide 3-layer MLP, {args.sparsity:.0%} unstructured, batch "
          f"{args.batch}, {torch.get_num_threads()} threads, medians of {args.rounds} rounds")
    print(f"{'engine':18s} {'ms':>8s} {'sparsegrain is':>16s}")
    for n, t in med.items():
        print(f"{n:18s} {t:8.2f} {t / med['sparsegrain']:15.2f}x")


if __name__ == "__main__":
    main()
