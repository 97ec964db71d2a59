"""SparTen (Gondimalla et al., MICRO 2019) against a dense array, a one-sided sparse machine and SCNN.

The same layers, the same pruned weights and activations on four machines of 1,024 multipliers at
1 GHz: a dense 32 x 32 systolic array (``systolic``, weight-stationary), SparTen storing every
activation (``skip_activations=False``: it skips zero weights only, the one-sided comparison
point of SparTen's paper), SparTen itself (both operands' zeros skipped), and SCNN (8 x 8 PEs of
4 x 4 multipliers). Weight densities per layer are Deep Compression's pruned AlexNet and VGG-16
(Han et al., ICLR 2016, Tables 4 and 5), on seeded random weights pruned by magnitude.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import (
    PRUNED_DENSITY,
    check_fraction,
    dense_macs,
    geomean,
    layer_activations,
    pruned_layer,
    run_layer,
)
from .study import ActDensity, Quick, Seed, Study, progress, study

#: the layers, at their :data:`~.common.PRUNED_DENSITY`
LAYERS = ("alexnet:conv2", "alexnet:conv3", "alexnet:conv4", "alexnet:conv5", "vgg16:conv4_1",
          "vgg16:conv4_2", "vgg16:conv4_3", "vgg16:conv5_1", "vgg16:conv5_2", "vgg16:conv5_3")
QUICK_LAYERS = ("alexnet:conv5",)
#: SparTen's abstract: "4.7x, 1.8x, and 3x better than a dense architecture, one-sided sparse
#: architecture, and SCNN"
PUBLISHED = {"dense": 4.7, "one_sided": 1.8, "scnn": 3.0}
MACHINES = {
    "dense": ("systolic", {}),
    "one_sided": ("sparten", {"skip_activations": False}),
    "sparten": ("sparten", {}),
    "scnn": ("scnn", {}),
}


@study("sparten")
def sparten(quick: Quick = False, act_density: ActDensity = 0.5, seed: Seed = 0) -> Study:
    """SparTen vs a dense array, a one-sided sparse machine and SCNN on pruned AlexNet/VGG-16
    layers (Gondimalla et al.): speedup and energy per layer."""
    check_fraction("act_density", act_density, "the fraction of nonzero activations")
    names = QUICK_LAYERS if quick else LAYERS
    rows = []
    for i, name in enumerate(progress(list(names), "sparten")):
        layer, pruned, mask = pruned_layer(name, seed + i)
        acts = layer_activations(layer, act_density, seed, tokens=16)
        runs = {m: run_layer(accel, layer, pruned, acts, mask=mask, **params)
                for m, (accel, params) in MACHINES.items()}
        row: dict[str, Any] = {"layer": name, "weight_density": PRUNED_DENSITY[name],
                               "act_density": act_density}
        for m, r in runs.items():
            row[f"{m}_cycles"] = r.cycles
            row[f"{m}_energy_uj"] = r.energy_pj / 1e6
        row["dense_over_matched_macs"] = dense_macs(layer, acts) / runs["sparten"].extras["matched_pairs"]
        row["sparten_utilization"] = runs["sparten"].utilization
        row["dense_utilization"] = runs["dense"].utilization
        for m in PUBLISHED:
            row[f"speedup_over_{m}"] = runs[m].cycles / runs["sparten"].cycles
            row[f"energy_ratio_over_{m}"] = runs[m].energy_pj / runs["sparten"].energy_pj
        rows.append(row)
    cols = ["layer", "weight_density", "dense_cycles", "one_sided_cycles", "sparten_cycles",
            "scnn_cycles", *(f"speedup_over_{m}" for m in PUBLISHED),
            *(f"energy_ratio_over_{m}" for m in PUBLISHED)]
    return Study("sparten", "SparTen vs dense, one-sided sparse and SCNN", rows, cols,
                 _summary(rows, act_density), _plots(rows))


def _summary(rows: list[dict[str, Any]], act_density: float) -> list[str]:
    speed = {m: geomean([r[f"speedup_over_{m}"] for r in rows]) for m in PUBLISHED}
    energy = {m: geomean([r[f"energy_ratio_over_{m}"] for r in rows]) for m in PUBLISHED}
    table = ["| SparTen over | published speedup | obtained speedup | obtained energy ratio |",
             "|---|---|---|---|"]
    for m, pub in PUBLISHED.items():
        table.append(f"| {m.replace('_', '-')} | {pub}x | {speed[m]:.2f}x | {energy[m]:.2f}x |")
    return [
        "Layers: AlexNet conv2-conv5 and VGG-16 conv4_x, conv5_x at the weight densities of Deep "
        "Compression's pruned models (Han et al., ICLR 2016, Tables 4 and 5), on seeded random "
        f"weights pruned by magnitude; activations seeded random at {act_density:.0%} density "
        "(a choice: SCNN reports 30-70% after ReLU). Every machine has 1,024 multipliers at "
        "1 GHz; energies from the 45 nm table, buffers priced by size where declared.",
        "Geometric means over the layers (cycles of the other machine / SparTen's cycles; "
        "energy likewise):",
        "\n".join(table),
        f"**Why the figures differ:** SparTen does {geomean([r['dense_over_matched_macs'] for r in rows]):.2f}x "
        "fewer multiplies than the dense array (geometric mean; both operands' zeros skipped); "
        f"SparTen's multipliers are busy {geomean([r['sparten_utilization'] for r in rows]):.0%} "
        "of its cycles (load imbalance between the CUs of a cluster, the cycle an empty chunk "
        "join costs), the dense array's "
        f"{geomean([r['dense_utilization'] for r in rows]):.0%} (its mapping of the layer onto "
        "32 x 32 cells), and the speedup over dense is the product of the three. The published "
        "figures come from measured per-layer activation densities and SparTen's own simulator. "
        "The one-sided machine here is SparTen with every activation stored, so it differs from "
        "SparTen only in the zero activations it multiplies; SCNN's planar tiling leaves PEs "
        "idle on small feature maps (13 x 13 and 14 x 14 over 8 x 8 PEs) and its crossbar "
        "stalls on bank conflicts. Energy: every machine's buffers are priced by size (the dense "
        "array's and SparTen's 512 KiB global buffers, SCNN's per-PE RAMs and accumulator "
        "banks); SparTen's paper reports no energy ratio to compare with.",
    ]


def _plots(rows: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    labels = [r["layer"].replace(":", "\n") for r in rows]
    x = np.arange(len(rows))

    def speedup(fig: Any) -> None:
        ax = fig.add_subplot()
        for off, m in zip((-0.27, 0.0, 0.27), PUBLISHED):
            ax.bar(x + off, [r[f"speedup_over_{m}"] for r in rows], 0.27,
                   label=f"over {m.replace('_', '-')} (published {PUBLISHED[m]}x)")
        ax.axhline(1.0, color="black", lw=0.6)
        ax.set_xticks(x, labels, fontsize=6)
        ax.set_ylabel("SparTen speedup (cycles ratio)")
        ax.legend(fontsize=7)

    return [("sparten_speedup.png", speedup)]
