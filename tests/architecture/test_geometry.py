"""A pattern's geometry has one home: encode, sparsify, bench and the sweep derive the same format
parameters from it, for every registered pattern and format."""

from __future__ import annotations

import pytest
import torch

from sparsegrain.benchmarking.bench import format_for
from sparsegrain.experiments.config import Pruning, SweepConfig
from sparsegrain.experiments.point import accelerator_params
from sparsegrain.experiments.sweep import resolve
from sparsegrain.formats import FORMATS, encode, parse_format
from sparsegrain.formats.report import encode_layers
from sparsegrain.hardware import ACCELERATORS
from sparsegrain.kernels.build import candidates, tries
from sparsegrain.patterns import PATTERNS, examples, pattern

SPECS = [*examples(), "gs:8:1:scatter=true", "block:8x1", "nm:1:8", "pebalanced:16"]


def sweep_formats(spec: str) -> dict[str, dict]:
    cfg = SweepConfig(patterns=(spec,), sparsities=(0.5,), accelerators=(),
                      pruning=Pruning(steps=0))
    return dict(parse_format(f) for f in resolve(cfg, None).formats)


def test_every_pattern_kind_is_covered():
    assert {pattern(s).kind for s in SPECS} == set(PATTERNS)


@pytest.mark.parametrize("spec", SPECS)
def test_encode_and_the_sweep_give_each_format_the_same_parameters(spec):
    p = pattern(spec)
    w = torch.randn(64, 64, generator=torch.Generator().manual_seed(0))
    mask = p.mask(w, 0.5)
    in_sweep = sweep_formats(spec)
    assert set(in_sweep) == set(FORMATS)
    for row in encode_layers({"w": w}, [spec], 0.5):
        kind, _ = parse_format(row.format)
        direct = FORMATS[kind].for_pattern(p.geometry) or {}
        assert in_sweep[kind] == direct, (spec, kind)
        if row.report is None:  # the format cannot hold this mask: neither can a direct encode
            with pytest.raises(ValueError):
                encode(w, kind, mask=mask, **direct)
        else:
            assert row.report.to_dict() == encode(w, kind, mask=mask, **direct).storage().to_dict()


@pytest.mark.parametrize("spec", SPECS)
def test_bench_and_sparsify_use_the_parameters_the_format_derives(spec):
    p = pattern(spec)
    try:
        fmt, params = format_for(spec)
    except ValueError as e:
        assert "no kernel runs" in str(e)
        assert all(fmt == "csr" for fmt, _ in tries("auto", p))
        return
    assert params == FORMATS[fmt].for_pattern(p.geometry)
    assert (fmt, params) in tries("auto", p)
    assert sweep_formats(spec)[fmt] == params
    w = torch.randn(64, 64, generator=torch.Generator().manual_seed(1))
    mask = p.mask(w, 0.75)
    kernels = candidates(w * mask, mask, "auto", p)
    enc = encode(w * mask, fmt, mask=mask, value_bits=32, **params)
    x = torch.randn(64, 3)
    label = next(k for k in kernels if k.split(":")[0] == fmt)
    assert torch.allclose(kernels[label].matmul(x), torch.from_numpy(enc.matrix()) @ x, atol=1e-5)


@pytest.mark.parametrize("spec", SPECS)
def test_the_sweep_builds_machines_from_the_pattern_they_exploit(spec):
    p = pattern(spec)
    cfg = SweepConfig(patterns=(spec,), sparsities=(0.5,), accelerators=tuple(ACCELERATORS),
                      pruning=Pruning(steps=0))
    got = accelerator_params(cfg)
    for name, cls in ACCELERATORS.items():
        assert got[name] == (cls.for_pattern(p.geometry) or {})
