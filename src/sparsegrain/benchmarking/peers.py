"""The project's kernels against the strongest peer engines, on the same masked weight, in one run.

Engines, each ``Y = W @ X`` in float32 on the same masked weight: dense torch, onnxruntime's dense
MatMul (``pip install onnx onnxruntime``), torch's CSR and (for block masks) BSR, scipy's CSR,
Intel MKL's sparse BLAS through ``sparse-dot-mkl`` (``pip install sparse-dot-mkl mkl``; the
optional extra ``sparsegrain[peers]`` installs these), the pattern's kernel, and the same kernel
as a user meets it: a ``sparsify``-ed nn.Linear called as a module on (batch, cols) rows. Engines that are
not installed are left out and named. Times are interleaved medians (``core.timing``), every
engine timed in turn within each round, after a check that all of them give the same product.
onnxruntime's threads are told not to spin after a run: spinning, they hold the cores while the
next engine in the round runs (on two cores that doubled torch's dense times).
"""

from __future__ import annotations

import glob
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..core.arrays import require_memory
from ..core.timing import interleaved_ms
from ..kernels.build import VALUE_LABELS, kernel_for
from ..kernels.layout import VALUE_BITS
from ..patterns import pattern
from .bench import format_for, masked_weight, memory_needed

KERNEL = "sparsegrain"


def ours(value_bits: int) -> str:
    """The engine name of the kernel storing values in ``value_bits`` (``sparsegrain fp16``)."""
    return KERNEL + VALUE_LABELS[value_bits]


#: the weight as a user runs it: ``sparsify(format="auto", pattern=...)``'s nn.Linear (the
#: fastest float32 kernel holding the mask at the cell's batch) called as a module on the
#: (batch, cols) rows a model gives it, its output (batch, rows)
LAYER = "sparsegrain layer"
#: the engine names of the project's kernels, one per value width, and the layer
OURS = (*(ours(b) for b in VALUE_BITS), LAYER)


@dataclass
class PeerRow:
    """One (pattern, batch) cell: milliseconds by engine."""

    pattern: str
    format: str
    sparsity: float
    batch: int
    shape: tuple[int, int]
    ms: dict[str, float] = field(default_factory=dict)
    #: the kernel ``sparsify`` chose for the layer engine
    layer_format: str = ""

    @property
    def best_peer(self) -> str:
        return min((t, e) for e, t in self.ms.items() if e not in OURS)[1]

    @property
    def vs_best_peer(self) -> dict[str, float]:
        """The best peer's time over each of the project's kernels timed (above 1: the kernel
        is faster), by engine name."""
        return {n: self.ms[self.best_peer] / self.ms[n] for n in OURS if n in self.ms}

    def to_dict(self) -> dict[str, Any]:
        return {"pattern": self.pattern, "format": self.format, "sparsity": self.sparsity,
                "batch": self.batch, "shape": list(self.shape), "ms": dict(self.ms),
                "best_peer": self.best_peer, "vs_best_peer": self.vs_best_peer,
                "layer_format": self.layer_format}


def _mkl() -> Any | None:
    """sparse_dot_mkl, with MKL's runtime found in this environment, or None."""
    found = sorted(glob.glob(os.path.join(sys.prefix, "lib", "libmkl_rt.so*")))
    if found:
        os.environ.setdefault("MKL_RT", found[-1])
    os.environ.setdefault("MKL_THREADING_LAYER", "GNU")
    try:
        import sparse_dot_mkl
    except (ImportError, OSError):
        return None
    return sparse_dot_mkl


def _onnx_matmul(w: np.ndarray) -> Callable[[np.ndarray], np.ndarray] | None:
    """onnxruntime's dense ``W @ X`` with W a constant of the graph, or None if not installed."""
    try:
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return None
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["W", "X"], ["Y"])], "matmul",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [w.shape[1], None])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [w.shape[0], None])],
        [numpy_helper.from_array(w, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = torch.get_num_threads()
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # see the module doc
    session = ort.InferenceSession(model.SerializeToString(), opts,
                                   providers=["CPUExecutionProvider"])
    onnx.checker.check_model(model)
    return lambda x: session.run(None, {"X": x})[0]


def engines(w: torch.Tensor, spec: str, value_bits: tuple[int, ...] = ()
            ) -> tuple[dict[str, Callable[[Any], Any]], dict[str, torch.Tensor], list[str]]:
    """Each engine's ``W @ X`` as a function of X (given as the engine takes it), the weight
    each of the project's kernels holds (its values rounded or shared as stored), and the
    engines that are not installed; the kernel runs with float32 values and with each of
    ``value_bits`` as well."""
    import scipy.sparse as sp

    fmt, params = format_for(spec)
    kernels = {ours(b): kernel_for(w, fmt, value_bits=b, **params)
               for b in dict.fromkeys((32, *value_bits))}
    wn = w.numpy()
    csr = sp.csr_matrix(wn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: "sparse CSR support is in beta"
        t_csr = w.to_sparse_csr()
        geometry = pattern(spec).geometry
        block = geometry.block if geometry.block and all(
            w.shape[i] % geometry.block[i] == 0 for i in (0, 1)) else None
        t_bsr = w.to_sparse_bsr(block) if block else None
    out: dict[str, Callable[[Any], Any]] = {
        "torch dense": lambda x: w @ x,
        "torch CSR": lambda x: t_csr @ x,
        "scipy CSR": lambda x: csr @ x.numpy(),
        **{name: (lambda x, k=k: k.matmul(x)) for name, k in kernels.items()},
    }
    if t_bsr is not None:
        out["torch BSR"] = lambda x: t_bsr @ x
    missing = []
    onnx_mm = _onnx_matmul(wn)
    if onnx_mm is None:
        missing.append("onnxruntime")
    else:
        out["onnxruntime dense"] = lambda x: onnx_mm(x.numpy())
    mkl = _mkl()
    if mkl is None:
        missing.append("MKL sparse (sparse-dot-mkl)")
    else:
        out["MKL sparse"] = lambda x: mkl.dot_product_mkl(csr, x.numpy())
    return out, {n: k.encoded.decode() for n, k in kernels.items()}, missing


def sparse_linear(w: torch.Tensor, spec: str, batch: int) -> tuple[torch.nn.Module, str]:
    """An nn.Linear holding ``w`` (no bias) as ``sparsify`` deploys it for ``batch`` rows, with
    the kernels of pattern ``spec`` and CSR as candidates (kept sparse even where dense would
    be faster: the cell compares sparse engines), and the format it chose."""
    from ..deploy import sparsify

    linear = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
    with torch.no_grad():
        linear.weight.copy_(w)
    model = sparsify(torch.nn.Sequential(linear), pattern=spec, batch=batch,
                     keep_dense_if_slower=False, cache=False)
    return model[0], model.sparsify_report[0].chosen


def bench_peers(shape: tuple[int, int], specs: list[str], sparsity: float, batches: list[int],
                rounds: int = 7, progress: Callable[[str], None] = lambda s: None,
                value_bits: tuple[int, ...] = ()) -> tuple[list[PeerRow], list[str]]:
    """Every engine on every (pattern, batch), the kernel also with each of ``value_bits``;
    returns the rows and the engines missing. Each of the project's kernels is checked against
    the product of the weight it holds (float16-rounded, or shared among a 4-bit codebook),
    every peer against the float32 weight's."""
    require_memory(memory_needed(shape, max(batches)) * 2,
                   f"a {shape[0]}x{shape[1]} peer benchmark at batch {max(batches)} needs "
                   "about {need}; {free} of memory is available now")
    rows, missing = [], []
    gen = torch.Generator().manual_seed(1)
    for spec in specs:
        w = masked_weight(shape, spec, sparsity)
        fns, held, missing = engines(w, spec, value_bits)
        fmt = format_for(spec)[0]
        for batch in batches:
            progress(f"{spec}, batch {batch}")
            x = torch.randn(shape[1], batch, generator=gen)
            layer, chosen = sparse_linear(w, spec, batch)
            fns[LAYER] = layer
            given = {n: x.T.contiguous() if n == LAYER else x for n in fns}  # the layer's rows
            exact = (w.double() @ x.double()).numpy()
            refs = {n: (h.double() @ x.double()).numpy() for n, h in held.items()}
            with torch.no_grad():
                for name, fn in fns.items():
                    ref = refs.get(name, exact)
                    got = np.asarray(fn(given[name]), dtype=np.float64)
                    got = (got.T if name == LAYER else got).reshape(ref.shape)
                    if not np.allclose(got, ref, rtol=1e-3, atol=1e-3 * np.abs(ref).max()):
                        raise RuntimeError(f"{name} gives another product on {spec}, batch {batch}")
                ms = interleaved_ms({n: (lambda f=f, x=given[n]: f(x)) for n, f in fns.items()},
                                    rounds)
            rows.append(PeerRow(pattern(spec).spec, fmt, sparsity, batch,
                                (int(shape[0]), int(shape[1])), ms, chosen))
    return rows, missing
