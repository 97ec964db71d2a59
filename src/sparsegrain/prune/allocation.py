"""How an overall sparsity target is shared out among a model's layers.

- ``uniform``: every layer pruned to the target.
- ``global``: the pattern's groups of all layers ranked together by score, as
  ``torch.nn.utils.prune.global_unstructured`` does for single weights. The pattern decides
  which masks are legal, so the ranking goes through the pattern's own projection: each
  layer's cost curve (score pruned against weights pruned) is measured with ``pattern.mask``
  at the sparsities of :data:`GRID`, and weights are taken greedily from the layer whose next
  step costs least per pruned weight until the target count is reached. For unstructured
  magnitude pruning this is one global threshold on |w|, to the grid's resolution.
- ``sensitivity``: from a per-layer scan of metric against sparsity (each layer pruned alone,
  one-shot), every layer gets the highest sparsity whose metric drop stays within one shared
  tolerance, the tolerance set by bisection so that the layers together reach the target
  (the per-layer sensitivity analysis of Han et al., "Learning both Weights and Connections for
  Efficient Neural Networks", NeurIPS 2015, Fig. 5).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import torch

from ..patterns import Pattern, check_sparsity

#: allocation name -> what it does, in a phrase (the CLI's help and the report use it)
ALLOCATIONS: dict[str, str] = {
    "uniform": "every layer pruned to the target",
    "global": "the pattern's groups of all layers ranked together at every mask update",
    "sensitivity": "each layer as sparse as a shared drop tolerance of a one-shot per-layer scan "
                   "allows, together reaching the target",
}
#: the global allocation's sparsity grid: 0, 0.02, ..., 0.98 (a layer is never pruned away whole)
GRID = tuple(i / 50 for i in range(50))


def check_allocation(name: str) -> str:
    """``name`` if it is an allocation, else a ValueError listing them."""
    if name not in ALLOCATIONS:
        raise ValueError(f"unknown allocation {name!r}; valid: {', '.join(ALLOCATIONS)}")
    return name


Curve = tuple[list[float], list[int], list[float]]


def cost_curve(pattern: Pattern, weight: torch.Tensor, score: torch.Tensor, start: float = 0.0
               ) -> Curve:
    """(sparsities, weights pruned, score pruned) of ``pattern``'s masks at ``start`` and every
    :data:`GRID` sparsity above it. Below ``start`` (the weight's current sparsity, its pruned
    weights scored 0) a mask prunes only weights already pruned, so ``start`` is the curve's
    free first point and the masks under it need not be computed."""
    sparsities = [start, *(g for g in GRID if g > start + 1e-9)]
    counts, costs = [], []
    for s in sparsities:
        kept = pattern.mask(weight, s, score)
        counts.append(int((~kept).sum()))
        costs.append(float(score[~kept].sum()))
    return sparsities, counts, costs


def allocate_global(curves: dict[str, Curve], sizes: dict[str, int], sparsity: float
                    ) -> dict[str, float]:
    """Per-layer sparsities (points of each layer's :func:`cost_curve`) reaching ``sparsity``
    over all ``sizes`` weights with the least total score pruned."""
    sparsity = check_sparsity(sparsity)
    target = round(sparsity * sum(sizes.values()))
    at = {name: 0 for name in curves}
    pruned = sum(curves[n][1][0] for n in curves)

    def step_cost(name: str) -> tuple[float, int, str] | None:
        """Cost per pruned weight of the layer's next step that prunes anything more."""
        _, counts, costs = curves[name]
        k = at[name]
        nxt = next((j for j in range(k + 1, len(counts)) if counts[j] > counts[k]), None)
        if nxt is None:
            return None
        return (costs[nxt] - costs[k]) / (counts[nxt] - counts[k]), nxt, name

    heap = [c for c in map(step_cost, curves) if c is not None]
    heapq.heapify(heap)
    while heap and pruned < target:
        _, nxt, name = heapq.heappop(heap)
        counts = curves[name][1]
        gain = counts[nxt] - counts[at[name]]
        if pruned + gain - target > target - pruned:
            break  # this step would overshoot by more than stopping short
        pruned += gain
        at[name] = nxt
        c = step_cost(name)
        if c is not None:
            heapq.heappush(heap, c)
    return {name: curves[name][0][k] for name, k in at.items()}


def allocate_sensitivity(curves: dict[str, Sequence[tuple[float, float]]], sizes: dict[str, int],
                         sparsity: float) -> dict[str, float]:
    """Per-layer sparsities reaching ``sparsity`` over all ``sizes`` weights, each layer as
    sparse as a shared drop tolerance allows. ``curves[layer]`` holds (sparsity, metric drop)
    points of that layer pruned alone; drops are made non-decreasing in sparsity and
    interpolated linearly. A ValueError if the target is beyond the scanned sparsities."""
    sparsity = check_sparsity(sparsity)
    total = sum(sizes.values())
    prepared = {}
    for name, pts in curves.items():
        pts = sorted([(0.0, 0.0), *((float(s), float(d)) for s, d in pts)])
        worst, mono = 0.0, []
        for s, d in pts:
            worst = max(worst, d)
            mono.append((s, worst))
        prepared[name] = mono
    def share(alloc: dict[str, float]) -> float:  # the layers' sparsities over all weights
        return sum(sizes[n] * s for n, s in alloc.items()) / total

    reach = share({n: pts[-1][0] for n, pts in prepared.items()})
    if sparsity > reach + 1e-9:
        raise ValueError(f"target sparsity {sparsity:g} is beyond the scan (at most {reach:.3f} with "
                         "every layer at its highest scanned sparsity); scan higher sparsities")

    def at(tol: float) -> dict[str, float]:
        return {n: _sparsity_within(pts, tol) for n, pts in prepared.items()}

    lo, hi = 0.0, max(pts[-1][1] for pts in prepared.values())
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if share(at(mid)) < sparsity else (lo, mid)
    # Where the curves are flat the overall sparsity jumps across the target between two
    # tolerances: blend the allocations either side (below: none pruned if even a zero
    # tolerance overshoots) so the layers together land on the target.
    below, above = at(lo), at(hi)
    if share(below) >= sparsity:
        below = dict.fromkeys(prepared, 0.0)
    s_lo, s_hi = share(below), share(above)
    w = 1.0 if s_hi <= s_lo else (sparsity - s_lo) / (s_hi - s_lo)
    return {n: below[n] + w * (above[n] - below[n]) for n in prepared}


def _sparsity_within(pts: list[tuple[float, float]], tol: float) -> float:
    """The highest sparsity on a non-decreasing (sparsity, drop) curve whose drop is <= tol."""
    best = 0.0
    for (s0, d0), (s1, d1) in zip(pts, pts[1:]):
        if d1 <= tol:
            best = s1
        elif d0 <= tol:
            return s0 + (s1 - s0) * (tol - d0) / (d1 - d0)
        else:
            break
    return best
