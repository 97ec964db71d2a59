"""SCNN (Parashar et al., ISCA 2017) over a comparably provisioned dense accelerator.

The paper's comparison point is DCNN: SCNN's own machine (64 PEs of 4 x 4 multipliers, the same
buffers) without sparsity support, every weight and activation multiplied and stored
uncompressed. Here that is the ``scnn`` model with ``dense=True``, on the same layers, weights
and activations. Layers: the convolutions of AlexNet and VGG-16 at the weight densities of Han
et al.'s pruned models (:data:`~.common.PRUNED_DENSITY`); activations seeded random at a chosen
density, since SCNN's measured per-layer activation densities are not among this project's
sources. Per network, speedup is the dense machine's summed cycles over SCNN's and the energy
ratio its summed energy over SCNN's, as the paper sums a network's layers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import (
    PRUNED_DENSITY,
    check_fraction,
    geomean,
    layer_activations,
    pruned_layer,
    run_layer,
)
from .study import ActDensity, Quick, Seed, Study, progress, study

#: AlexNet's convolutions but the first (11 x 11 at stride 4 on 227 x 227 is the slowest to
#: simulate densely and a sliver of the work) and VGG-16's from conv3_1 on (a choice for run
#: time: the 224 and 112 stages take minutes each on the dense machine)
LAYERS = ("alexnet:conv2", "alexnet:conv3", "alexnet:conv4", "alexnet:conv5",
          "vgg16:conv3_1", "vgg16:conv3_2", "vgg16:conv3_3", "vgg16:conv4_1", "vgg16:conv4_2",
          "vgg16:conv4_3", "vgg16:conv5_1", "vgg16:conv5_2", "vgg16:conv5_3")
QUICK_LAYERS = ("alexnet:conv5",)
#: the abstract: "SCNN can improve both performance and energy by a factor of 2.7x and 2.3x,
#: respectively, over a comparably provisioned dense CNN accelerator"
PUBLISHED = {"speedup": 2.7, "energy": 2.3}


@study("scnn")
def scnn(quick: Quick = False, act_density: ActDensity = 0.5, seed: Seed = 0) -> Study:
    """SCNN over its dense counterpart (DCNN) on pruned AlexNet and VGG-16 convolutions
    (Parashar et al.): cycles, energy, speedup and energy ratio per layer and network."""
    check_fraction("act_density", act_density, "the fraction of nonzero activations")
    rows = []
    names = QUICK_LAYERS if quick else LAYERS
    for i, name in enumerate(progress(list(names), "scnn")):
        layer, pruned, mask = pruned_layer(name, seed + i)
        acts = layer_activations(layer, act_density, seed, tokens=16)
        sparse, dense = (run_layer("scnn", layer, pruned, acts, mask=mask, dense=d)
                         for d in (False, True))
        rows.append({
            "layer": name, "weight_density": PRUNED_DENSITY[name], "act_density": act_density,
            "scnn_cycles": sparse.cycles, "dense_cycles": dense.cycles,
            "speedup": dense.cycles / sparse.cycles,
            "scnn_energy_uj": sparse.energy_pj / 1e6, "dense_energy_uj": dense.energy_pj / 1e6,
            "energy_ratio": dense.energy_pj / sparse.energy_pj,
            "scnn_utilization": sparse.utilization, "dense_utilization": dense.utilization,
            "products_ratio": dense.extras["products"] / sparse.extras["products"],
        })
    return Study("scnn", "SCNN over a dense accelerator of the same provisioning", rows,
                 ["layer", "weight_density", "scnn_cycles", "dense_cycles", "speedup",
                  "scnn_energy_uj", "dense_energy_uj", "energy_ratio"],
                 _summary(rows, act_density), _plots(rows), tables=[network_table(rows)])


def networks(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per network: speedup and energy ratio of its summed layers."""
    out = {}
    for net in dict.fromkeys(r["layer"].split(":")[0] for r in rows):
        mine = [r for r in rows if r["layer"].startswith(f"{net}:")]
        out[net] = {k: sum(r[f"dense_{m}"] for r in mine) / sum(r[f"scnn_{m}"] for r in mine)
                    for k, m in (("speedup", "cycles"), ("energy", "energy_uj"))}
    return out


def network_table(rows: list[dict[str, Any]]) -> tuple[str, list[str], list[dict[str, Any]]]:
    nets = networks(rows)
    body = [{"network": n, **v} for n, v in nets.items()]
    body.append({"network": "geometric mean",
                 **{k: geomean([v[k] for v in nets.values()]) for k in PUBLISHED}})
    body.append({"network": "published (AlexNet, GoogLeNet, VGGNet)", **PUBLISHED})
    return ("Per network (summed layers): SCNN's speedup and energy ratio over the dense "
            "machine", ["network", "speedup", "energy"], body)


def _summary(rows: list[dict[str, Any]], act_density: float) -> list[str]:
    nets = networks(rows)
    speed = geomean([v["speedup"] for v in nets.values()])
    energy = geomean([v["energy"] for v in nets.values()])
    products = geomean([r["products_ratio"] for r in rows])
    return [
        f"Layers: {', '.join(r['layer'] for r in rows)}, seeded random weights pruned by "
        "magnitude to the densities of Han et al.'s pruned AlexNet and VGG-16; activations "
        f"seeded random at {act_density:.0%} density (a choice). Both machines: 8 x 8 PEs of "
        "4 x 4 multipliers, 32 accumulator banks, 1 GHz; the dense one multiplies every pair "
        "and stores values without indices (SCNN's DCNN).",
        f"**Published:** SCNN {PUBLISHED['speedup']}x faster and {PUBLISHED['energy']}x more "
        "energy-efficient than the dense accelerator (AlexNet, GoogLeNet, VGGNet). "
        f"**Obtained:** {speed:.2f}x faster and {energy:.2f}x less energy (geometric mean over "
        f"{', '.join(nets)}; " + "; ".join(f"{n} {v['speedup']:.2f}x / {v['energy']:.2f}x"
                                          for n, v in nets.items()) + ").",
        f"**Why the figures differ:** SCNN does {products:.1f}x fewer multiplies than the dense "
        "machine (geometric mean over layers: weight density times activation density); its "
        "multipliers are busy "
        f"{geomean([r['scnn_utilization'] for r in rows]):.0%} of its cycles against the dense "
        f"machine's {geomean([r['dense_utilization'] for r in rows]):.0%} (products that land "
        "outside the output, crossbar bank conflicts, PEs idle on small maps and at the end of "
        "each output-channel group). The activations here are uniform random at one density, "
        "where SCNN measured each layer's; early layers are denser than 50 % after ReLU, which "
        "lowers the paper's gain, and GoogLeNet (not in this catalog) is missing from the mean. "
        "Energy: both machines' RAMs are priced by size; the dense machine moves 16-bit values "
        "with no index, SCNN values with 4-bit indices.",
    ]


def _plots(rows: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    labels = [r["layer"].replace(":", "\n") for r in rows]
    x = np.arange(len(rows))

    def gains(fig: Any) -> None:
        ax = fig.add_subplot()
        ax.bar(x - 0.2, [r["speedup"] for r in rows], 0.4, label="speedup")
        ax.bar(x + 0.2, [r["energy_ratio"] for r in rows], 0.4, label="energy ratio")
        for y, text in ((PUBLISHED["speedup"], "published speedup"),
                        (PUBLISHED["energy"], "published energy")):
            ax.axhline(y, color="gray", ls="--", lw=0.8)
            ax.text(len(rows) - 0.5, y, text, fontsize=7, ha="right", va="bottom", color="gray")
        ax.set_xticks(x, labels, fontsize=6)
        ax.set_ylabel("SCNN over the dense machine")
        ax.legend(fontsize=7)

    return [("scnn_gains.png", gains)]
