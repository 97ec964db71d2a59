"""``sparsegrain reproduce eie``: EIE's nine benchmark layers on the EIE model (Han et al. 2016).

Seeded random weights at the published densities (SPEC 4.1, the catalog's ``eie`` network),
encoded for EIE and run cycle-exact: a table of actual and theoretical time, load-balance
efficiency and energy; efficiency against queue depth; speedup against PE count; and the same
layers' dense and sparse matrix-vector products timed with torch on this CPU.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..core.files import write_atomic
from ..core.tables import markdown_table
from ..core.timing import interleaved_ms
from ..workloads import LayerShape, get_network
from ..hardware.base import EnergyTable, simulate
from ..hardware.eie import EIE
from ..hardware.inputs import random_activations
from ..kernels.build import kernel_for
from .report import geomean

#: the paper's queue depth (SPEC 4.1); it studies depths 1..256 and 1..256 PEs
PAPER_DEPTH = 8
DEPTHS = (2, 4, 8, 16, 32, 64, 128, 256)
PE_COUNTS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
#: layers small enough to re-encode for every PE count in a default run
PE_SWEEP_LAYERS = ("Alex-8", "VGG-8", "NT-We", "NT-Wd", "NT-LSTM")
QUICK_LAYERS = ("Alex-8", "NT-We", "NT-LSTM")
#: SPEC 4.1 / the fc8 data's README: Table IV's Alex-8 times (real weights and input), seconds
PUBLISHED_ALEX8 = {"actual": 9.9e-6, "theoretical": 8.9e-6}


@dataclass
class EIELayerResult:
    """One layer at 64 PEs and the paper's queue depth, with its sweeps."""

    layer: str
    shape: tuple[int, int]
    weight_density: float
    act_density: float
    cycles: int
    actual_us: float
    theoretical_us: float
    efficiency: float
    energy_uj: float
    cpu_dense_us: float
    cpu_sparse_us: float
    cpu_kernel_us: float
    efficiency_by_depth: dict[int, float] = field(default_factory=dict)
    cycles_by_pes: dict[int, int] = field(default_factory=dict)


def layer_operands(layer: LayerShape, seed: int) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """(weight at the published density, activations at the published density, codebook)."""
    g = torch.Generator().manual_seed(seed)
    w = layer.random_weight(seed)
    w = torch.where(torch.rand(w.shape, generator=g) < layer.weight_density, w, 0.0)
    act = random_activations(w.shape[1], layer.act_density, seed)
    # EIE's codebook start (linear between min and max), without the k-means refinement
    book = np.concatenate([[0.0], np.linspace(float(w.min()), float(w.max()), 15)])
    return w, act, book.astype(np.float32)


def cpu_matvec_us(w: torch.Tensor, act: np.ndarray, rounds: int = 15) -> tuple[float, float, float]:
    """Microseconds of the float32 matrix-vector product on this CPU by torch dense, torch CSR
    and the project's CSR kernel: warmed up, interleaved, medians of ``rounds`` rounds."""
    x = torch.from_numpy(act)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        sparse = w.to_sparse_csr()
    kernel = kernel_for(w, "csr")
    ms = interleaved_ms({"dense": lambda: w @ x, "csr": lambda: sparse @ x,
                         "kernel": lambda: kernel.matmul(x)}, rounds)
    return ms["dense"] * 1e3, ms["csr"] * 1e3, ms["kernel"] * 1e3


def measure_eie_layer(layer: LayerShape, seed: int, depths: tuple[int, ...], pes: tuple[int, ...],
              table: EnergyTable) -> EIELayerResult:
    """Every figure of one layer."""
    w, act, book = layer_operands(layer, seed)
    encoded = EIE(n_pe=64, codebook=book).encode(w)
    r = simulate("eie", encoded, act, energy_table=table, fifo_depth=PAPER_DEPTH)
    dense_us, sparse_us, kernel_us = cpu_matvec_us(w, act)
    run = EIELayerResult(
        layer=layer.name, shape=(w.shape[0], w.shape[1]),
        weight_density=float((w != 0).float().mean()), act_density=float((act != 0).mean()),
        cycles=int(r.cycles), actual_us=r.time_s * 1e6,
        theoretical_us=r.extras["theoretical_time_s"] * 1e6,
        efficiency=r.extras["load_balance_efficiency"], energy_uj=r.energy_pj / 1e6,
        cpu_dense_us=dense_us, cpu_sparse_us=sparse_us, cpu_kernel_us=kernel_us,
    )
    for d in depths:
        run.efficiency_by_depth[d] = simulate("eie", encoded, act, fifo_depth=d).utilization
    for p in pes:
        on_p = encoded if p == 64 else EIE(n_pe=p, codebook=book).encode(w)
        run.cycles_by_pes[p] = int(simulate("eie", on_p, act, fifo_depth=PAPER_DEPTH).cycles)
    return run


def run_eie_study(quick: bool = False, seed: int = 0, energy_table: str | None = None,
              layers: list[str] | None = None,
              progress: Callable[[str], None] | None = None) -> list[EIELayerResult]:
    """The nine layers (three with ``quick``, or those named), their depth and PE sweeps."""
    table = EnergyTable.load(energy_table)
    catalog = {l.name: l for l in get_network("eie")}
    names = layers or (list(QUICK_LAYERS) if quick else list(catalog))
    unknown = [n for n in names if n not in catalog]
    if unknown:
        raise ValueError(f"unknown EIE layer {', '.join(unknown)}; valid: {', '.join(catalog)}")
    layers = [catalog[n] for n in names]
    depths = (2, 8, 32) if quick else DEPTHS
    runs = []
    for i, layer in enumerate(layers):
        sweep = layer.name in PE_SWEEP_LAYERS
        pes = ((1, 4, 16, 64) if quick else PE_COUNTS) if sweep else ()
        runs.append(measure_eie_layer(layer, seed + i, depths, pes, table))
        if progress:
            progress(layer.name)
    return runs


REPORT_FILES = ("results.json", "table.md", "eie_efficiency_vs_depth.png", "eie_speedup_vs_pes.png")


def check_writable(out: Path, overwrite: bool) -> None:
    """Raise if ``out`` already holds report files and ``overwrite`` is off."""
    there = [name for name in REPORT_FILES if (Path(out) / name).exists()
             or (Path(out) / name).is_symlink()]
    if there and not overwrite:
        raise ValueError(f"{out} already holds {', '.join(there)}; pass --overwrite to replace them")


def write_eie_report(runs: list[EIELayerResult], out: Path, overwrite: bool = True) -> list[Path]:
    """results.json, table.md and the two plots in ``out``; returns the files written."""
    check_writable(out, overwrite)
    return [write_atomic(out, "results.json", json.dumps([asdict(r) for r in runs], indent=1)),
            write_atomic(out, "table.md", eie_table(runs)), plot_depth(runs, out),
            plot_pes(runs, out)]


def eie_table(runs: list[EIELayerResult]) -> str:
    """The per-layer table (64 PEs, queue depth 8, 800 MHz) in Markdown."""
    head = ("layer", "shape", "weights", "acts", "cycles", "actual (us)", "theoretical (us)",
            "efficiency", "energy (uJ)", "CPU dense (us)", "CPU torch CSR (us)",
            "CPU kernel (us)", "vs CPU dense", "vs best CPU")
    lines = markdown_table(head, ([
        r.layer, f"{r.shape[1]}x{r.shape[0]}", f"{r.weight_density:.1%}", f"{r.act_density:.1%}",
        f"{r.cycles:,}", f"{r.actual_us:.2f}", f"{r.theoretical_us:.2f}", f"{r.efficiency:.1%}",
        f"{r.energy_uj:.2f}", f"{r.cpu_dense_us:,.1f}", f"{r.cpu_sparse_us:,.1f}",
        f"{r.cpu_kernel_us:,.1f}", f"{r.cpu_dense_us / r.actual_us:,.0f}x",
        f"{best_cpu_us(r) / r.actual_us:,.0f}x"] for r in runs))
    dense = geomean([r.cpu_dense_us / r.actual_us for r in runs])
    best = geomean([best_cpu_us(r) / r.actual_us for r in runs])
    lines.append("")
    lines.append(
        f"CPU times: float32 matrix-vector products, torch {torch.__version__} (dense and CSR) "
        f"and the project's CSR kernel, on {os.cpu_count()} cores of this machine, warmed up, "
        f"interleaved, medians of 15 rounds; load average {os.getloadavg()[0]:.1f} when written."
    )
    lines.append(
        f"Simulated EIE (64 PEs, 800 MHz) over this CPU, geometric mean over these layers: "
        f"{dense:,.0f}x over dense torch, {best:,.0f}x over the fastest CPU product of each "
        f"layer. Published (Han et al. 2016, geometric means over the nine layers): 189x over a "
        f"dense CPU (Core i7-5930K) and 13x over a dense GPU (Titan X); the paper's per-layer "
        f"CPU and GPU times are not among this project's sources, so the published ratios are "
        f"compared as geometric means only, against another CPU. EIE Table IV, real Alex-8 "
        f"weights and input: actual {PUBLISHED_ALEX8['actual'] * 1e6:.1f} us, theoretical "
        f"{PUBLISHED_ALEX8['theoretical'] * 1e6:.1f} us."
    )
    return "\n".join(lines) + "\n"


def best_cpu_us(r: EIELayerResult) -> float:
    """The fastest of the layer's CPU products."""
    return min(r.cpu_dense_us, r.cpu_sparse_us, r.cpu_kernel_us)


def _figure() -> tuple[Any, Any]:
    """A figure and its axes at the study's size (matplotlib imported on first use)."""
    from ..report.plots import plt

    return plt.subplots(figsize=(7, 4.5))


def _save(fig: Any, out: Path, stem: str) -> Path:
    """Write ``fig`` as ``STEM.png`` and ``STEM.pdf`` in ``out`` (atomically) and release it;
    returns the PNG's path."""
    from ..report.plots import to_images, write_images

    fig.tight_layout()
    return write_images(to_images(fig), out, stem)["png"]


def plot_depth(runs: list[EIELayerResult], out: Path) -> Path:
    """Load-balance efficiency against queue depth, one line per layer."""
    fig, ax = _figure()
    for r in runs:
        d = sorted(r.efficiency_by_depth)
        ax.plot(d, [r.efficiency_by_depth[k] for k in d], marker="o", label=r.layer)
    ax.axvline(PAPER_DEPTH, color="grey", ls="--")
    ax.text(PAPER_DEPTH * 1.1, 0.05, "published: steep gains up to depth 8,\nlittle beyond "
            "(Han et al. 2016)", fontsize=8, color="grey")
    ax.set_xscale("log", base=2)
    ax.set_xticks(d, [str(k) for k in d])
    ax.set(xlabel="activation queue depth (fifo_depth)", ylim=(0, 1),
           ylabel="load-balance efficiency", title="EIE model: efficiency vs queue depth (64 PEs)")
    ax.legend(fontsize=7, ncol=3)
    return _save(fig, out, "eie_efficiency_vs_depth")


def plot_pes(runs: list[EIELayerResult], out: Path) -> Path:
    """Speedup over one PE against PE count, with the linear ideal."""
    fig, ax = _figure()
    top = 1
    for r in runs:
        if not r.cycles_by_pes:
            continue
        p = sorted(r.cycles_by_pes)
        base = r.cycles_by_pes[p[0]] * p[0]  # the smallest run scaled to one PE
        ax.plot(p, [base / r.cycles_by_pes[k] for k in p], marker="o", label=r.layer)
        top = max(top, p[-1])
    ax.plot([1, top], [1, top], color="grey", ls="--", label="linear")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ticks = [2**i for i in range(top.bit_length())]
    ax.set_xticks(ticks, [str(k) for k in ticks])
    ax.set_yticks(ticks, [str(k) for k in ticks])
    ax.set(xlabel="PEs", ylabel="speedup over 1 PE",
           title="EIE model: speedup vs PE count (queue depth 8)")
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, out, "eie_speedup_vs_pes")
