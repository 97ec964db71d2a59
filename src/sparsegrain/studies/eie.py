"""The ``eie`` study: EIE's nine benchmark layers on the EIE model (Han et al. 2016).

Seeded random weights at the published densities (SPEC 4.1, the catalog's ``eie`` network),
encoded for EIE and run cycle-exact: a table of actual and theoretical time, load-balance
efficiency and energy; efficiency against queue depth; speedup against PE count; and the same
layers' dense and sparse matrix-vector products timed with torch on this CPU.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Annotated, Any

import numpy as np
import torch
import yaml

from ..core.timing import interleaved_ms
from ..hardware import EnergyTable, simulate
from ..hardware.eie import EIE
from ..hardware.inputs import random_activations
from ..kernels.build import kernel_for
from ..workloads import LayerShape, get_network
from .common import geomean
from .study import Opt, Quick, Seed, Study, progress, study

#: the paper's queue depth (SPEC 4.1); it studies depths 1..256 and 1..256 PEs
PAPER_DEPTH = 8
DEPTHS = (2, 4, 8, 16, 32, 64, 128, 256)
PE_COUNTS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
#: layers small enough to re-encode for every PE count in a default run
PE_SWEEP_LAYERS = ("Alex-8", "VGG-8", "NT-We", "NT-Wd", "NT-LSTM")
QUICK_LAYERS = ("Alex-8", "NT-We", "NT-LSTM")
#: SPEC 4.1 / the fc8 data's README: Table IV's Alex-8 times (real weights and input), seconds
PUBLISHED_ALEX8 = {"actual": 9.9e-6, "theoretical": 8.9e-6}
#: the platforms of EIE's Table IV, as the published data names them, and how tables show them
PLATFORMS = {"cpu": "CPU", "gpu": "GPU", "mgpu": "mGPU"}


@cache
def published() -> dict[str, Any]:
    """The EIE paper's platform times, Deep Compression's powers and the headline figures
    (``eie_published.yaml`` beside this module, every figure with its source)."""
    return yaml.safe_load(files(__package__).joinpath("eie_published.yaml").read_text("utf-8"))


def platform_power_w(key: str, layer: str) -> float:
    """Watts of platform ``key`` (``cpu_dense``) on ``layer``: Deep Compression's Table 9 where
    it lists the layer; else (the NeuralTalk layers) the geometric mean of its six published
    powers, an assumption: the table gives no NeuralTalk powers."""
    pw = published()["power_w"]
    if layer in pw["layers"]:
        return float(pw[key][pw["layers"].index(layer)])
    return geomean([float(v) for v in pw[key]])


def against_platforms(layer: str, eie_us: float, eie_uj: float) -> dict[str, float]:
    """EIE at ``eie_us`` and ``eie_uj`` on ``layer`` against each published platform: speedup
    (``over_cpu_dense_b1``: the platform's Table IV time over EIE's) and, at batch 1, energy
    efficiency (``eff_cpu_dense``: the platform's time x its power over EIE's energy), as the
    paper's section VI defines them."""
    data = published()
    i = data["layers"].index(layer)
    out = {}
    for key, times in data["times_us"].items():
        out[f"over_{key}"] = times[i] / eie_us
        if key.endswith("_b1"):
            platform = key.removesuffix("_b1")
            out[f"eff_{platform}"] = times[i] * platform_power_w(platform, layer) / eie_uj
    return out


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
                  layers: list[str] | None = None, sweeps: bool = True) -> list[EIELayerResult]:
    """The nine layers (three with ``quick``, or those named), and with ``sweeps`` their depth
    and PE sweeps."""
    table = EnergyTable.load(energy_table)
    catalog = {lay.name: lay for lay in get_network("eie")}
    names = layers or (list(QUICK_LAYERS) if quick else list(catalog))
    unknown = [n for n in names if n not in catalog]
    if unknown:
        raise ValueError(f"unknown EIE layer {', '.join(unknown)}; valid: {', '.join(catalog)}")
    depths = ((2, 8, 32) if quick else DEPTHS) if sweeps else ()
    runs = []
    for i, name in enumerate(progress(names, "EIE layers")):
        sweep = sweeps and name in PE_SWEEP_LAYERS
        pes = ((1, 4, 16, 64) if quick else PE_COUNTS) if sweep else ()
        runs.append(measure_eie_layer(catalog[name], seed + i, depths, pes, table))
    return runs


@study("eie")
def eie(quick: Quick = False, seed: Seed = 0,
        energy_table: Annotated[str | None, Opt("YAML energy table file")] = None,
        layers: Annotated[tuple[str, ...], Opt("a subset of the nine layers, e.g. Alex-8,NT-We")]
        = ()) -> Study:
    """EIE's nine benchmark layers on the EIE model (Han et al. 2016): times, efficiency,
    energy, queue-depth and PE sweeps, and the same products on this CPU."""
    runs = run_eie_study(quick, seed, energy_table, list(layers) or None)
    rows = [{
        "layer": r.layer, "shape": f"{r.shape[1]}x{r.shape[0]}",
        "weights": round(r.weight_density, 4), "acts": round(r.act_density, 4),
        "cycles": r.cycles, "actual_us": r.actual_us, "theoretical_us": r.theoretical_us,
        "efficiency": r.efficiency, "energy_uj": r.energy_uj, "cpu_dense_us": r.cpu_dense_us,
        "cpu_torch_csr_us": r.cpu_sparse_us, "cpu_kernel_us": r.cpu_kernel_us,
        "vs_cpu_dense": r.cpu_dense_us / r.actual_us, "vs_best_cpu": best_cpu_us(r) / r.actual_us,
        "efficiency_by_depth": json.dumps(r.efficiency_by_depth),
        "cycles_by_pes": json.dumps(r.cycles_by_pes),
    } for r in runs]
    for row, r in zip(rows, runs):
        row.update(against_platforms(r.layer, r.actual_us, r.energy_uj))
    return Study(
        name="eie", title="EIE model, 64 PEs, queue depth 8, 800 MHz", rows=rows,
        table_columns=["layer", "shape", "weights", "acts", "cycles", "actual_us",
                       "theoretical_us", "efficiency", "energy_uj", "cpu_dense_us",
                       "cpu_torch_csr_us", "cpu_kernel_us", "vs_cpu_dense", "vs_best_cpu"],
        summary=summary(runs) + platform_summary(rows),
        tables=platform_tables(rows),
        plots=[("eie_efficiency_vs_depth.png", lambda fig: draw_depth(runs, fig)),
               ("eie_speedup_vs_pes.png", lambda fig: draw_pes(runs, fig))])


def summary(runs: list[EIELayerResult]) -> list[str]:
    """How the CPU times were taken, and the simulated EIE against them and the paper."""
    dense = geomean([r.cpu_dense_us / r.actual_us for r in runs])
    best = geomean([best_cpu_us(r) / r.actual_us for r in runs])
    return [
        f"CPU times: float32 matrix-vector products, torch {torch.__version__} (dense and CSR) "
        f"and the project's CSR kernel, on {os.cpu_count()} cores of this machine, warmed up, "
        f"interleaved, medians of 15 rounds; load average {os.getloadavg()[0]:.1f} when written.",
        f"Simulated EIE (64 PEs, 800 MHz) over this CPU, geometric mean over these layers: "
        f"{dense:,.0f}x over dense torch, {best:,.0f}x over the fastest CPU product of each "
        f"layer. Published (Han et al. 2016, geometric means over the nine layers): 189x over a "
        f"dense CPU (Core i7-5930K) and 13x over a dense GPU (Titan X), against another CPU. EIE "
        f"Table IV, real Alex-8 weights and input: actual "
        f"{PUBLISHED_ALEX8['actual'] * 1e6:.1f} us, theoretical "
        f"{PUBLISHED_ALEX8['theoretical'] * 1e6:.1f} us.",
    ]


def _columns(batch: int) -> list[str]:
    return [f"over_{p}_{m}_b{batch}" for p in PLATFORMS for m in ("dense", "sparse")]


def _efficiencies() -> list[str]:
    return [f"eff_{p}_{m}" for p in PLATFORMS for m in ("dense", "sparse")]


def _reference_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The geometric means over ``rows``' layers: of the simulated EIE, of Table IV's own EIE
    times (and 0.600 W) on the same layers, and the paper's headline figures."""
    data = published()
    keys = [*_columns(1), *_columns(64), *_efficiencies()]
    sim = {"layer": "simulated, geomean", **{k: geomean([r[k] for r in rows]) for k in keys}}
    measured = dict(zip(data["layers"], data["eie"]["actual_us"]))
    # Table IV's EIE time, and as its energy that time at the paper's 0.600 W
    paper_rows = [against_platforms(r["layer"], measured[r["layer"]],
                                    measured[r["layer"]] * data["eie"]["power_w"]) for r in rows]
    table = {"layer": "Table IV EIE, geomean", **{k: geomean([pr[k] for pr in paper_rows])
                                                 for k in keys}}
    head = {"layer": "paper's headline", **{f"over_{k}": v for k, v in
                                            data["headlines"]["speedup"].items()},
            **{f"eff_{k.removesuffix('_b1')}": v
               for k, v in data["headlines"]["energy_efficiency"].items()}}
    return [sim, table, head]


def platform_tables(rows: list[dict[str, Any]]) -> list[tuple[str, list[str], list[dict[str, Any]]]]:
    """Per layer and as geometric means: the simulated EIE's speedup over each published
    platform at batch 1 and 64, and its energy efficiency at batch 1."""
    refs = _reference_rows(rows)
    eff = _efficiencies()
    return [("Speedup over the paper's platforms, batch 1 (Table IV times over the simulated EIE "
             "time)", ["layer", *_columns(1)], rows + refs),
            ("Speedup over the paper's platforms, batch 64 (their time per vector)",
             ["layer", *_columns(64)], rows + refs[:2]),
            ("Energy efficiency, batch 1 (platform time x Deep Compression's measured power over "
             "the simulated EIE energy)", ["layer", *eff], rows + refs)]


def platform_summary(rows: list[dict[str, Any]]) -> list[str]:
    """The simulated EIE against the paper's headline figures, each with its distance."""
    sim, table, head = _reference_rows(rows)
    parts = []
    for key, name in (("over_cpu_dense_b1", "speedup over the CPU"),
                      ("over_gpu_dense_b1", "over the GPU"),
                      ("over_mgpu_dense_b1", "over the mobile GPU"),
                      ("eff_cpu_dense", "energy efficiency over the CPU"),
                      ("eff_gpu_dense", "over the GPU"),
                      ("eff_mgpu_dense", "over the mobile GPU")):
        parts.append(f"{name} {sim[key]:,.0f}x (paper {head[key]:,.0f}x, "
                     f"{sim[key] / head[key] - 1:+.0%}; Table IV's own EIE times give "
                     f"{table[key]:,.0f}x)")
    n = len(rows)
    return [f"Against the paper's platforms (Table IV times of a Core i7-5930K, a Titan X and a "
            f"Tegra K1, dense and sparse; Deep Compression's Table 9 powers, NeuralTalk layers at "
            f"the geometric mean of each platform's six published powers; EIE's energy as "
            f"simulated here), geometric means over {'the nine layers' if n == 9 else f'{n} of the nine layers (the headlines cover nine)'}: "
            + "; ".join(parts) + ". The speedups differ from the paper's by the ratio of "
            "Table IV's measured EIE times to the simulated ones (the model omits the "
            "measured chip's stalls beyond load imbalance), the efficiencies also by the "
            "simulated energy against 0.600 W times the measured time."]


def best_cpu_us(r: EIELayerResult) -> float:
    """The fastest of the layer's CPU products."""
    return min(r.cpu_dense_us, r.cpu_sparse_us, r.cpu_kernel_us)


def draw_depth(runs: list[EIELayerResult], fig: Any) -> None:
    """Load-balance efficiency against queue depth, one line per layer."""
    ax = fig.add_subplot()
    d: list[int] = []
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


def draw_pes(runs: list[EIELayerResult], fig: Any) -> None:
    """Speedup over one PE against PE count, with the linear ideal."""
    ax = fig.add_subplot()
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
