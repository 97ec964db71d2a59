"""Machine models at their edges: degenerate activations and weights are one ``error:`` line from
``simulate``, CSP-H bounds its chunk width in one place, a ``csp:C`` wider than the layer stays
within the weight's memory, and the CSP study describes the machines it actually ran."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sparsegrain.cli import app
from sparsegrain.hardware import simulate
from sparsegrain.hardware.csph import CSPH, check_chunk
from sparsegrain.patterns import pattern
from sparsegrain.studies import run_study

MACHINES = ("csph", "eie", "gs", "scnn", "simd", "sparten", "systolic")


def error_line(args: list[str]) -> str:
    """The one ``error:`` line ``sparsegrain`` gives for ``args``, asserted to be just that."""
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2, r.output
    assert r.output.startswith("error:") and r.output.count("\n") == 1, r.output
    assert "Traceback" not in r.output
    return r.output


@pytest.fixture
def weight(tmp_path: Path) -> Path:
    path = tmp_path / "w.npy"
    np.save(path, np.random.default_rng(0).standard_normal((32, 64)).astype(np.float32))
    return path


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("suffix", [".npy", ".pt"])
def test_activations_without_a_sample_are_refused_on_every_machine(tmp_path, weight, machine,
                                                                   suffix):
    acts = tmp_path / f"a{suffix}"
    if suffix == ".npy":
        np.save(acts, np.zeros((0, 64), np.float32))
    else:
        torch.save(torch.zeros(0, 64), acts)
    params = ["--pattern", "csp:32", "--sparsity", "0.5"] if machine == "csph" else []
    line = error_line(["simulate", machine, "--weights", str(weight), "--activations", str(acts),
                       *params])
    assert "activations hold 0 samples; give at least one" in line


@pytest.mark.parametrize("acts, why", [
    (np.ones(63, np.float32), "needs activations shaped (64,) or (N, 64); got (63,)"),
    (np.ones((2, 63), np.float32), "got (2, 63)"),
    (np.ones((1, 0), np.float32), "got (1, 0)"),
    (np.ones((1, 1, 1, 2, 64), np.float32), "got (1, 1, 1, 2, 64)"),
    (np.array(1.0, np.float32), "activations are a single number (a 0-d array)"),
    (np.array([np.nan] + [1.0] * 63, np.float32), "holds 1 NaN or inf value(s) of 64"),
    (np.array([np.inf] + [1.0] * 63, np.float32), "holds 1 NaN or inf value(s) of 64"),
])
def test_degenerate_activation_shapes_and_values_are_one_line(tmp_path, weight, acts, why):
    np.save(tmp_path / "a.npy", acts)
    assert why in error_line(["simulate", "eie", "--weights", str(weight), "--activations",
                              str(tmp_path / "a.npy")])


@pytest.mark.parametrize("shape", [(0, 64), (32, 0)])
def test_an_empty_weight_is_one_line(tmp_path, shape):
    np.save(tmp_path / "w.npy", np.zeros(shape, np.float32))
    line = error_line(["simulate", "systolic", "--weights", str(tmp_path / "w.npy")])
    assert f"weight of shape {shape} is empty" in line


@pytest.mark.parametrize("weight, acts, kw, why", [
    ((8, 3, 3, 3), (0, 3, 8, 8), {}, "activations hold 0 samples"),
    ((8, 3, 3), (0, 3, 8), {}, "activations hold 0 samples"),
    ((8, 3, 3, 3), (3, 0, 8), {}, r"shape \(3, 0, 8\) are empty; give H and W of at least 1"),
    ((8, 3, 3), (3, 0), {}, r"shape \(3, 0\) are empty; give an L of at least 1"),
    ((8, 3, 3, 3), None, {"input_size": 0}, "input_size must be a positive integer"),
    ((8, 3, 3, 3), None, {"input_size": (8, 8, 8)}, "input_size must be a positive integer"),
    ((0, 3, 3, 3), None, {"input_size": 8}, r"weight of shape \(0, 3, 3, 3\) is empty"),
])
@pytest.mark.parametrize("machine", MACHINES)
def test_degenerate_conv_layers_are_refused_by_the_layer(machine, weight, acts, kw, why):
    x = None if acts is None else torch.zeros(acts)
    with pytest.raises(ValueError, match=why):
        simulate(machine, torch.ones(weight), x, **kw)


def test_csph_bounds_its_chunk_by_its_accumulators():
    assert CSPH(chunk=4096, acc_regs=4096).chunk == 4096
    for chunk in (0, 2049, 1_000_000, 2.5, True):
        with pytest.raises(ValueError, match=rf"chunk must be 1 to 2048 .*, got {chunk}"):
            CSPH(chunk=chunk)
    with pytest.raises(ValueError, match="CSP-H n_pe must be an integer >= 1, got 2.5"):
        CSPH(n_pe=2.5)
    from sparsegrain.studies import csp as study

    assert study.check_chunk is check_chunk  # the study asks the machine


@pytest.mark.parametrize("params", [["-p", "chunk=1000000"],
                                    ["--pattern", "csp:1000000", "--sparsity", "0.5"]])
def test_csph_chunk_beyond_its_accumulators_is_one_line(weight, params):
    line = error_line(["simulate", "csph", "--weights", str(weight), *params])
    assert "chunk must be 1 to 2048 output channels" in line and "got 1000000" in line


@pytest.mark.parametrize("shape", [(16, 24), (12, 5, 3, 3)])
def test_a_csp_chunk_wider_than_the_layer_is_one_chunk_of_all_outputs(shape):
    w = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    whole = pattern(f"csp:{shape[0]}").mask(w, 0.5)
    start = time.perf_counter()
    huge = pattern("csp:1000000000000")
    mask = huge.mask(w, 0.5)
    assert huge.violation(mask) is None and huge.violation(~mask) is None
    assert time.perf_counter() - start < 2.0  # padding to C would allocate terabytes
    assert torch.equal(mask, whole)
    kept_inputs = mask.reshape(shape[0], -1).any(0)
    assert torch.equal(mask.reshape(shape[0], -1), kept_inputs.expand(shape[0], -1))
    partial = mask.clone().reshape(shape[0], -1)
    partial[0, int(torch.nonzero(kept_inputs)[0])] = False
    assert "chunk 0 is partly kept" in huge.violation(partial.reshape(shape))


@pytest.mark.slow
def test_csp_study_states_the_multipliers_each_machine_has():
    wide, base = (run_study("csp", quick=True, minilm=False, chunk=c) for c in (64, 32))
    assert "CSP-H has 2,048 multipliers (32 PEs x C = 64) and SparTen 1,024; both have a " \
           "512 KiB global buffer and run at 1 GHz" in wide.summary[0]
    assert "Both machines have 1,024 multipliers, a 512 KiB global buffer" in base.summary[0]
    # SparTen runs the same layer either way: its speedup is over its own 1,024 multipliers
    assert wide.rows[0]["sparten_speedup"] == pytest.approx(base.rows[0]["sparten_speedup"])
