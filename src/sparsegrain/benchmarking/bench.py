"""Benchmarks of the sparse kernels against dense torch and torch's CSR matmul, in one run.

For a pattern at a sparsity, the weight is masked, encoded in the format that holds the pattern,
and ``W @ X`` is timed (median) for each batch size. Bandwidth is the encoded bytes read per
second as a fraction of the bandwidth of a large copy measured in the same run (bytes read plus
bytes written per second, the STREAM convention).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import torch

from ..core.arrays import require_memory
from ..core.timing import median_ms
from ..kernels import SparseKernel
from ..kernels.base import native_kernels
from ..kernels.build import kernel_for
from ..patterns import examples, pattern
from ..patterns.base import check_sparsity

#: bytes of the buffer timed for the copy bandwidth (well past the caches)
COPY_BYTES = 256 * 2**20


@dataclass
class BenchRow:
    """One (pattern, sparsity, batch) measurement; times in milliseconds."""

    pattern: str
    format: str
    sparsity: float
    batch: int
    shape: tuple[int, int]
    nnz: int
    encoded_bytes: int
    dense_ms: float
    torch_csr_ms: float
    kernel_ms: float
    copy_gbps: float

    @property
    def speedup_vs_dense(self) -> float:
        return self.dense_ms / self.kernel_ms

    @property
    def speedup_vs_torch_csr(self) -> float:
        return self.torch_csr_ms / self.kernel_ms

    @property
    def gflops(self) -> float:
        """Useful multiply-adds (kept weights x batch) x 2 per second, in GFLOP/s."""
        return 2 * self.nnz * self.batch / self.kernel_ms / 1e6

    @property
    def bandwidth_fraction(self) -> float:
        """Encoded bytes read per second over the copy bandwidth of the same run."""
        return self.encoded_bytes / self.kernel_ms / 1e6 / self.copy_gbps

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["shape"] = list(self.shape)
        for k in ("speedup_vs_dense", "speedup_vs_torch_csr", "gflops", "bandwidth_fraction"):
            d[k] = getattr(self, k)
        return d


def copy_bandwidth(reps: int = 5) -> float:
    """GB/s of a large tensor copy (bytes read + bytes written), torch's parallel copy."""
    src = torch.ones(COPY_BYTES // 4)
    dst = torch.empty_like(src)
    return 2 * COPY_BYTES / median_ms(lambda: dst.copy_(src), reps) / 1e6


def format_for(spec: str) -> tuple[str, dict[str, Any]]:
    """The format (and its parameters) whose kernel exploits a pattern's masks."""
    native = native_kernels(pattern(spec))
    if not native:
        exploited = [p for p in examples() if native_kernels(pattern(p))]
        raise ValueError(
            f"no kernel runs pattern {spec!r}; benchmark one of: {', '.join(exploited)}"
        )
    return native[0]


def memory_needed(shape: tuple[int, int], batch: int) -> int:
    """Bytes a benchmark holds at once, roughly: the weight three times (dense, mask, the
    pattern's scores), CSR at 8 bytes per weight (worst case, nothing pruned), the encoded
    copy about as large, and X and Y in fp32."""
    rows, cols = int(shape[0]), int(shape[1])
    return 4 * rows * cols * 3 + 8 * rows * cols * 2 + 4 * batch * (rows + cols)


def masked_weight(shape: tuple[int, int], spec: str, sparsity: float, seed: int = 0) -> torch.Tensor:
    """A random normal weight pruned to ``sparsity`` with pattern ``spec``."""
    w = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    return w * pattern(spec).mask(w, check_sparsity(sparsity))


def bench(
    shape: tuple[int, int],
    spec: str,
    sparsity: float,
    batches: list[int],
    reps: int = 7,
    copy_gbps: float | None = None,
    kernel: SparseKernel | None = None,
) -> list[BenchRow]:
    """Time dense torch, torch CSR and the pattern's kernel on ``W @ X`` for each batch."""
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"shape must be two positive sizes ROWSxCOLS, got {shape}")
    if not batches or min(batches) < 1:
        raise ValueError(f"batches must be positive integers, got {batches}")
    require_memory(memory_needed(shape, max(batches)),
                   f"a {shape[0]}x{shape[1]} benchmark at batch {max(batches)} needs about "
                   "{need} (dense, CSR, encoded copies and X in fp32); {free} of memory is "
                   "available now")
    fmt, params = format_for(spec)
    w = masked_weight(shape, spec, sparsity)
    kernel = kernel or kernel_for(w, fmt, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        w_csr = w.to_sparse_csr()
    nnz = int((w != 0).sum())
    copy_gbps = copy_gbps or copy_bandwidth()
    gen = torch.Generator().manual_seed(1)
    rows = []
    for batch in batches:
        x = torch.randn(shape[1], batch, generator=gen)
        xv = x[:, 0].contiguous() if batch == 1 else x
        rows.append(
            BenchRow(
                pattern=pattern(spec).spec,
                format=fmt,
                sparsity=float(sparsity),
                batch=batch,
                shape=(int(shape[0]), int(shape[1])),
                nnz=nnz,
                encoded_bytes=kernel.nbytes,
                dense_ms=median_ms(lambda xv=xv: w @ xv, reps),
                torch_csr_ms=median_ms(lambda x=x: w_csr @ x, reps),
                kernel_ms=median_ms(lambda xv=xv: kernel @ xv, reps),
                copy_gbps=copy_gbps,
            )
        )
    return rows


def load_warning(rows: list[BenchRow]) -> str | None:
    """Why these timings may not hold, if they may not: the machine was busy (1-minute load
    average above half its cores) or a kernel read faster than the copy probe (> 100 % of the
    copy bandwidth: the probe itself ran slowed, or the data sat in cache)."""
    reasons = []
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > cores / 2:
        reasons.append(f"load average {load:.1f} on {cores} cores")
    over = [r for r in rows if r.bandwidth_fraction > 1.0]
    if over:
        reasons.append(f"{len(over)} row(s) above the measured copy bandwidth (up to "
                       f"{max(r.bandwidth_fraction for r in over):.0%})")
    return None if not reasons else ("timings may not hold: " + "; ".join(reasons)
                                     + "; rerun on an idle machine")


def crossover(sparsities: list[float], speedups: list[float]) -> float | None:
    """Lowest sparsity of the sweep from which the kernel beats dense (speedup > 1) onwards."""
    for i, s in enumerate(sparsities):
        if all(v > 1.0 for v in speedups[i:]):
            return s
    return None
