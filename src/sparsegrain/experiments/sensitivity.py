"""Per-layer sensitivity: the metric with one layer pruned alone, one-shot, at each sparsity.

The scan shows which layers tolerate which sparsity under a pattern (``sparsegrain sensitivity``
writes it as a table and a plot), and the ``sensitivity`` allocation shares an overall target out
along it (:func:`sparsegrain.prune.allocation.allocate_sensitivity`).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from ..patterns import pattern as make_pattern
from ..prune import PruneConfig
from ..prune.allocation import allocate_sensitivity
from ..workloads.workload import Workload, load_workload
from .config import check_sparsities

DEFAULT_SCAN = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95)


@dataclass
class Sensitivity:
    """One pattern's scan: the dense metric, and per layer its size and one (sparsity reached,
    metric) point per target (N:M reaches 1 - N/M whatever the target)."""

    model: str
    pattern: str
    metric: str
    higher_is_better: bool
    dense: float
    targets: list[float]
    sizes: dict[str, int]
    points: dict[str, list[tuple[float, float]]]
    #: layers the pattern cannot tile, with the reason (they stay dense)
    skipped: dict[str, str]
    seconds: float

    def drops(self) -> dict[str, list[tuple[float, float]]]:
        """Per layer, (sparsity, metric lost against dense in points, positive = worse)."""
        sign = 100.0 if self.higher_is_better else -100.0
        return {n: [(s, sign * (self.dense - m)) for s, m in pts] for n, pts in self.points.items()}

    def allocate(self, sparsity: float) -> dict[str, float]:
        """Per-layer sparsities reaching ``sparsity`` overall along this scan."""
        return allocate_sensitivity(self.drops(), self.sizes, sparsity)



def scan(workload: Workload | str, pattern: str, sparsities=DEFAULT_SCAN,
         layers: list[str] | None = None,
         progress: Callable[[int, int, float], None] | None = None) -> Sensitivity:
    """Prune each of ``layers`` (default: the workload's prunable ones) alone, one-shot, with
    ``pattern`` at every sparsity, and evaluate; ``progress(done, total, seconds)`` after each."""
    wl = load_workload(workload)
    spec = make_pattern(pattern).spec
    sparsities = check_sparsities(sparsities)
    start = time.perf_counter()
    model = wl.fresh_model()
    measured = wl.layers(model)
    names = list(layers) if layers else measured
    unknown = [n for n in names if n not in measured]
    if unknown:
        raise ValueError(f"layer {unknown[0]!r} is not a prunable layer of {wl.label}; "
                         f"prunable: {', '.join(measured)}")
    dense_metric, dense_metrics = wl.measure(model)
    sizes, points, skipped = {}, {}, {}
    total, done = len(names) * len(sparsities), 0
    for name in names:
        weight = model.get_submodule(name).weight
        try:
            make_pattern(spec).check_shape(weight.shape)
        except ValueError as e:
            skipped[name] = str(e)
            total -= len(sparsities)
            continue
        sizes[name] = weight.numel()
        points[name] = []
        for s in sparsities:
            m = wl.fresh_model()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = wl.prune(m, PruneConfig(pattern=spec, sparsity=s, layers=[name]), steps=0)
            metric, metrics = wl.measure(m)
            points[name].append((result.overall_sparsity, metrics[metric]))
            done += 1
            if progress is not None:
                progress(done, total, time.perf_counter() - start)
    if not points:
        raise ValueError(f"{spec} cannot tile any of the layers {', '.join(names)}")
    return Sensitivity(wl.label, spec, dense_metric, wl.higher_is_better,
                       dense_metrics[dense_metric], list(sparsities), sizes, points, skipped,
                       time.perf_counter() - start)
