"""Sharing a sparsity target among layers: global ranking through the pattern's own projection,
and the sensitivity allocation along per-layer drop curves."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.utils.prune as torch_prune
from torch import nn

from sparsegrain.patterns import pattern
from sparsegrain.prune import PruneConfig, Pruner
from sparsegrain.prune.allocation import GRID, allocate_global, allocate_sensitivity, cost_curve


def net() -> nn.Sequential:
    """Three layers whose weights differ in scale, so a global ranking must treat them apart."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.Linear(128, 16))
    with torch.no_grad():
        m[2].weight.mul_(0.2)
        m[3].weight.mul_(3.0)
    return m


def pruned(alloc: str, spec: str, sparsity: float = 0.8, **kw) -> Pruner:
    p = Pruner()
    p.prepare(net(), PruneConfig(pattern=spec, sparsity=sparsity, allocation=alloc, **kw))
    p.update_masks(0)
    return p


def test_global_magnitude_is_one_threshold_as_torch_global_unstructured():
    m = net()
    torch_prune.global_unstructured([(m[i], "weight") for i in (0, 2, 3)],
                                    pruning_method=torch_prune.L1Unstructured, amount=0.5)
    theirs = [1 - float(m[i].weight_mask.float().mean()) for i in (0, 2, 3)]
    mine = pruned("global", "unstructured", 0.5).sparsity()
    for got, want in zip(mine.values(), theirs):
        assert got == pytest.approx(want, abs=0.02)  # the grid's resolution


@pytest.mark.parametrize("spec", ["unstructured", "block:4x4", "gs:8:1", "csp:8"])
def test_global_reaches_the_overall_target_and_prunes_small_weights_hardest(spec):
    p = pruned("global", spec)
    assert p.overall_sparsity() == pytest.approx(0.8, abs=0.01)
    s = p.sparsity()
    assert s["2.weight"] > s["0.weight"] > s["3.weight"]  # scaled by 0.2, 1 and 3
    for t in p.targets:
        assert t.pattern.is_valid(t.mask_module.mask)
    uniform = pruned("uniform", spec).sparsity()
    assert all(v == pytest.approx(0.8, abs=0.01) for v in uniform.values())


def test_global_keeps_a_structural_pattern_and_a_layer_with_its_own_sparsity():
    assert set(pruned("global", "nm:2:4").sparsity().values()) == {0.5}
    p = pruned("global", "unstructured", layers={"0": {"sparsity": 0.3}, "2": {}, "3": {}})
    s = p.sparsity()
    assert s["0.weight"] == pytest.approx(0.3, abs=0.001)
    pooled = (s["2.weight"] * 128 * 128 + s["3.weight"] * 16 * 128) / (128 * 128 + 16 * 128)
    assert pooled == pytest.approx(0.8, abs=0.01)


def test_global_follows_a_gradual_schedule_through_training():
    from sparsegrain.prune import Gradual

    m = net()
    p = Pruner()
    p.prepare(m, PruneConfig(pattern="unstructured", sparsity=0.9, allocation="global",
                             schedule=Gradual(0, 20, 5)))
    opt = torch.optim.SGD(m.parameters(), lr=0.01)
    seen = []
    for _ in range(21):
        m(torch.randn(8, 64)).pow(2).mean().backward()
        opt.step(), opt.zero_grad()
        p.step()
        seen.append(p.overall_sparsity())
    assert seen == sorted(seen) and seen[-1] == pytest.approx(0.9, abs=0.01)


def test_the_cost_curve_grows_with_sparsity():
    w = torch.randn(32, 64)
    sparsities, counts, costs = cost_curve(pattern("block:4x4"), w, w.abs())
    assert sparsities == list(GRID) and counts[0] == 0 and costs[0] == 0.0
    assert counts == sorted(counts) and costs == sorted(costs)
    half = pattern("block:4x4").mask(w, 0.5)
    later = cost_curve(pattern("block:4x4"), w * half, w.abs() * half, start=0.5)
    assert later[0][0] == 0.5 and later[0][1] > 0.5 and later[2][0] == 0.0


def test_allocate_global_takes_the_cheapest_weights_first():
    counts = [round(g * 100) for g in GRID]  # 100 weights a layer, pruned 2 by 2
    curves = {"cheap": (list(GRID), counts, [1.0 * c for c in counts]),
              "dear": (list(GRID), counts, [10.0 * c for c in counts])}
    assert allocate_global(curves, {"cheap": 100, "dear": 100}, 0.5) == {"cheap": 0.98, "dear": 0.02}
    assert allocate_global(curves, {"cheap": 100, "dear": 100}, 0.2) == {"cheap": 0.4, "dear": 0.0}


def test_sensitivity_gives_the_robust_layer_more_and_lands_on_the_target():
    curves = {"fragile": [(0.5, 1.0), (0.9, 20.0)], "robust": [(0.5, 0.0), (0.9, 0.5)]}
    sizes = {"fragile": 100, "robust": 300}
    got = allocate_sensitivity(curves, sizes, 0.6)
    assert got["robust"] > got["fragile"]
    overall = (got["fragile"] * 100 + got["robust"] * 300) / 400
    assert overall == pytest.approx(0.6, abs=1e-6)


def test_sensitivity_with_flat_curves_still_lands_on_the_target():
    flat = {"a": [(0.5, 0.0), (0.9, 0.0)], "b": [(0.5, 0.0), (0.9, 5.0)]}
    got = allocate_sensitivity(flat, {"a": 100, "b": 100}, 0.3)
    assert (got["a"] + got["b"]) / 2 == pytest.approx(0.3, abs=1e-6)


def test_sensitivity_beyond_the_scan_and_a_pruner_asked_for_it_are_clear_errors():
    with pytest.raises(ValueError, match="beyond the scan"):
        allocate_sensitivity({"a": [(0.5, 1.0)]}, {"a": 10}, 0.8)
    with pytest.raises(ValueError, match="allocation must be one of uniform, global"):
        PruneConfig(allocation="sensitivity")
    with pytest.raises(ValueError, match="allocation must be one of"):
        PruneConfig(allocation="best")


def test_a_pruner_state_round_trips_the_allocation():
    p = pruned("global", "unstructured")
    q = Pruner()
    q.prepare(copy.deepcopy(net()), PruneConfig.from_dict(p.state_dict()["config"]))
    assert q.config.allocation == "global"
