"""Formats and accelerators built for one pattern take its parameters from the sweep."""

from __future__ import annotations

import pytest
import torch

from sparsegrain import Workload
from sparsegrain.experiments import SweepConfig
from sparsegrain.experiments.point import accelerator_params, point_keys
from sparsegrain.experiments.sweep import resolve


def test_formats_and_accelerators_take_the_sweep_patterns_parameters() -> None:
    cfg = SweepConfig(patterns=("unstructured", "block:2x8", "nm:1:4", "csp:4"),
                      sparsities=(0.9,), accelerators=("csph", "gs", "systolic"),
                      formats=("csr", "bcsr", "nm", "gs", "csp", "bcsr:4x4"))
    got = resolve(cfg, None)
    # no gs pattern in this sweep: the gs format and engine keep their defaults
    assert got.formats == ("csr", "bcsr:2:8", "nm:1:4", "gs", "csp:4", "bcsr:4:4")
    assert accelerator_params(cfg) == {"csph": {"chunk": 4}, "gs": {}, "systolic": {}}


def test_without_a_matching_pattern_the_defaults_stay() -> None:
    cfg = SweepConfig(patterns=("unstructured",), sparsities=(0.9,), accelerators=("csph",),
                      formats=("bcsr",))
    assert resolve(cfg, None).formats == ("bcsr",)
    assert accelerator_params(cfg) == {"csph": {}}


def test_accelerator_parameters_are_part_of_the_row_key() -> None:
    a = resolve(SweepConfig(patterns=("csp:4",), sparsities=(0.9,), accelerators=("csph",)), None)
    b = resolve(SweepConfig(patterns=("csp:8",), sparsities=(0.9,), accelerators=("csph",)), None)
    key = ("accelerator", "csph")
    assert point_keys(a, "dense", 0.0, 0)[key] != point_keys(b, "dense", 0.0, 0)[key]


def test_the_cpu_batch_is_the_workloads_own_unless_the_sweep_names_one() -> None:
    wl = Workload(model=torch.nn.Linear(2, 2), evaluate=lambda m: 1.0,
                  sample_inputs=torch.ones(4, 2), cpu_batch=3)
    cfg = SweepConfig(patterns=("unstructured",), sparsities=(0.5,), accelerators=())
    assert resolve(cfg, wl).timed_batch == 3
    assert resolve(SweepConfig(patterns=("unstructured",), sparsities=(0.5,), accelerators=(),
                               cpu_batch=0), wl).timed_batch == 0
    assert resolve(cfg, None).timed_batch == 1


def test_a_workload_batch_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="cpu_batch must be an integer >= 1, got 0"):
        Workload(model=torch.nn.Linear(2, 2), evaluate=lambda m: 1.0,
                 sample_inputs=torch.ones(1, 2), cpu_batch=0)
