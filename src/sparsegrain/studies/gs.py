"""GS patterns (Sun et al., arXiv 2112.10898) on the GS engine: one B-lane core, every pattern.

At one sparsity (90%, B = 8 in the paper's runs): GS vertical (gs:B:1) and horizontal
(gs:B:B), unstructured, block Bx1 and 1xB, and dense, on GNMT's attention projection and
ResNet-50 conv layers: cycles, gathers, bank conflicts, lane utilisation, energy.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import torch

from ..patterns import pattern
from ..workloads.catalog import get_layer
from .common import geomean, layer_activations, minilm_layer, minilm_layers, run_layer
from .equal_accuracy import folders, layer_table, ratio_table
from .study import ActDensity, FromStore, MiniLM, Opt, Quick, Seed, Study, progress, study

LAYERS = ("gnmt:attn.query", "resnet50:layer2.1.conv2", "resnet50:layer3.1.conv1",
          "resnet50:layer3.1.conv2", "resnet50:layer4.1.conv2")
QUICK_LAYERS = ("gnmt:attn.query",)
PUBLISHED = "GS 2-3x lower runtime than conventional structured patterns at the same accuracy"


def configs(b: int) -> list[tuple[str, str | None, dict[str, Any]]]:
    """(label, pattern string or None for dense, engine parameters)."""
    return [
        ("dense", None, {"layout": "dense"}),
        (f"gs:{b}:1 (vertical)", f"gs:{b}:1", {"e": 1, "layout": "gs"}),
        (f"gs:{b}:{b} (horizontal)", f"gs:{b}:{b}", {"e": b, "layout": "gs"}),
        ("unstructured", "unstructured", {"layout": "unstructured"}),
        (f"block {b}x1", f"block:{b}x1", {"layout": "block_bx1"}),
        (f"block 1x{b}", f"block:1x{b}", {"layout": "block_1xb"}),
    ]


@study("gs")
def gs(quick: Quick = False,
       sparsity: Annotated[float, Opt("weight sparsity of every pattern, in [0, 1)")] = 0.9,
       lanes: Annotated[int, Opt("B: vector lanes = scratchpad banks")] = 8,
       act_density: ActDensity = 1.0, seed: Seed = 0, minilm: MiniLM = True,
       from_store: FromStore = None) -> Study:
    """GS vertical/horizontal vs unstructured vs block Bx1/1xB vs dense on the GS engine (Sun et
    al.) at one sparsity; with ``from_store`` (a ``sparsegrain tradeoff`` sweep that ran the
    ``gs`` engine) also at equal accuracy."""
    extra = at_equal_accuracy(folders(from_store)) if from_store else []
    cases = [(spec, get_layer(spec), get_layer(spec).random_weight(seed + i))
             for i, spec in enumerate(QUICK_LAYERS if quick else LAYERS)]
    if minilm and not quick:
        cases += [(minilm_layer(n, w).name, minilm_layer(n, w), w)
                  for n, w in minilm_layers("layer.0.intermediate").items()]
    rows = []
    for name, layer, w in progress(cases, "gs"):
        acts = layer_activations(layer, act_density, seed, tokens=1)
        base = None
        for label, spec, params in configs(lanes):
            mask = torch.ones_like(w, dtype=torch.bool) if spec is None else pattern(spec).mask(w, sparsity)
            r = run_layer("gs", layer, w * mask, acts, lanes=lanes, mask=mask, **params)
            base = r.cycles if spec is None else base
            rows.append({
                "layer": name, "pattern": label, "sparsity": 1.0 - float(mask.float().mean()),
                "cycles": r.cycles, "speedup_vs_dense": base / r.cycles,
                "gathers": r.extras["gathers"], "bank_conflicts": r.extras["bank_conflicts"],
                "lane_utilization": r.extras["lane_utilization"], "energy_uj": r.energy_pj / 1e6,
                "dram_bytes": r.traffic_bytes["dram"], "sram_bytes": r.traffic_bytes["sram"],
            })
    cols = ["layer", "pattern", "sparsity", "cycles", "speedup_vs_dense", "gathers",
            "bank_conflicts", "lane_utilization", "energy_uj"]
    return Study("gs", f"Patterns on the GS engine at {sparsity:.0%} sparsity, B = {lanes}", rows,
                 cols, _summary(rows, lanes) + extra, _plots(rows))


def at_equal_accuracy(stores: list[str]) -> list[str]:
    """The published claim's own comparison on stored sweeps: per network and budget, the GS
    engine's speedup of each GS pattern over each structured (block) pattern and unstructured,
    then per layer at 1 point."""
    out = [f"**Published:** {PUBLISHED}.",
           *ratio_table(stores, "gs", "speedup", lambda p: p.startswith("gs:"),
                        lambda p: p.startswith("block:") or p == "unstructured",
                        wanted="the GS patterns (gs:B:E)")]
    for store in stores:
        out += layer_table(store, "gs", lambda p: p.startswith("gs:"),
                           lambda p: p.startswith("block:"))
    return out


def _speedups(rows: list[dict[str, Any]], num: str, den: str) -> float:
    by = {(r["layer"], r["pattern"]): r["cycles"] for r in rows}
    layers = dict.fromkeys(r["layer"] for r in rows)
    return geomean([by[(lay, num)] / by[(lay, den)] for lay in layers])


def _summary(rows: list[dict[str, Any]], b: int) -> list[str]:
    v, h = f"gs:{b}:1 (vertical)", f"gs:{b}:{b} (horizontal)"
    lines = [
        "Weights: seeded random per catalog layer (MiniLM: real layer-0 FFN weights), pruned by "
        "each pattern; one input column per output position (conv) or one token (FC). The "
        "engine does not skip zero activations, so its cycles do not depend on their values.",
        f"**Published:** {PUBLISHED}. **Obtained** (same sparsity, geometric mean over layers, "
        "cycles of the alternative / cycles of GS vertical): "
        + ", ".join(f"{p} {_speedups(rows, p, v):.2f}x" for p in
                    ("unstructured", f"block {b}x1", f"block 1x{b}", "dense")) + "; GS horizontal "
        f"vs vertical {_speedups(rows, h, v):.2f}x.",
        "**Why the figure differs:** at equal sparsity a block pattern keeps as many weights as GS, "
        "and on this core a B x 1 block costs a value load, a scalar index load, a broadcast and "
        "an FMA, against a GS pack's value load, index load, gather and FMA: the two are close by "
        "construction. The paper's 2-3x compares runtimes at the *same accuracy*, where block "
        "patterns must keep more weights (lower sparsity) than GS; this comparison holds sparsity "
        "fixed, so the gap it shows is that of unstructured (bank conflicts, lane imbalance) "
        "against GS, not the accuracy-matched one (`--from` a sweep folder adds that one).",
    ]
    return lines


def _plots(rows: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    pats = list(dict.fromkeys(r["pattern"] for r in rows))

    def cycles(fig: Any) -> None:
        ax = fig.add_subplot()
        width = 0.8 / len(pats)
        x = np.arange(len(layers))
        for i, p in enumerate(pats):
            vals = [next(r["speedup_vs_dense"] for r in rows if r["layer"] == lay and r["pattern"] == p)
                    for lay in layers]
            ax.bar(x + i * width, vals, width, label=p)
        ax.set_xticks(x + 0.4 - width / 2, [lay.split(":")[-1] for lay in layers], fontsize=7)
        ax.set_ylabel("speedup over dense on the GS engine")
        ax.legend(fontsize=7)

    def lanes(fig: Any) -> None:
        ax = fig.add_subplot()
        vals = [np.mean([r["lane_utilization"] for r in rows if r["pattern"] == p]) for p in pats]
        ax.bar(range(len(pats)), vals)
        ax.set_xticks(range(len(pats)), pats, fontsize=7, rotation=20)
        ax.set_ylabel("lane utilisation (useful lanes / issued)")

    return [("gs_speedup.png", cycles), ("gs_lanes.png", lanes)]

