"""Formats and accelerators built for one pattern take its parameters from the sweep."""

from __future__ import annotations

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
    a = SweepConfig(patterns=("csp:4",), sparsities=(0.9,), accelerators=("csph",))
    b = SweepConfig(patterns=("csp:8",), sparsities=(0.9,), accelerators=("csph",))
    key = ("accelerator", "csph")
    assert point_keys(a, "dense", 0.0, 0)[key] != point_keys(b, "dense", 0.0, 0)[key]
