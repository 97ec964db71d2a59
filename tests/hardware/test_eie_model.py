"""The ``eie`` accelerator through ``sparsegrain.simulate``: inputs, reported figures, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import FC8

import sparsegrain
from sparsegrain.formats.eie import read_reference


@pytest.fixture(scope="module")
def fc8():
    return read_reference(FC8), np.fromfile(FC8 / "act.dat", dtype="<f4")


def test_fc8_reported_times_and_efficiency(fc8):
    enc, act = fc8
    r = sparsegrain.simulate("eie", enc, act, fifo_depth=8)
    assert r.cycles == 7926
    assert r.time_s == pytest.approx(7926 / 800e6)
    # SPEC 4.1: theoretical time = entries in active columns / (P x 800 MHz); paper: 8.9 us
    assert r.extras["theoretical_time_s"] == pytest.approx(8.86e-6, abs=0.01e-6)
    assert r.extras["load_balance_efficiency"] == pytest.approx(453_748 / (7926 * 64))
    assert r.utilization == r.extras["load_balance_efficiency"]
    assert r.energy_pj > 0 and set(r.energy_by_action) == set(r.actions)


def test_reencoded_matrix_gives_the_same_run(fc8):
    enc, act = fc8
    again = sparsegrain.encode(torch.from_numpy(enc.matrix()), "eie", n_pe=64,
                               codebook=enc.codebook, bias_column=True)
    assert sparsegrain.simulate("eie", again, act).cycles == 7926


def test_dense_weight_is_encoded_for_the_requested_pes(fc8):
    enc, act = fc8
    w = torch.from_numpy(enc.matrix()[:, :4096])
    for n_pe in (16, 64):
        r = sparsegrain.simulate("eie", w, act, n_pe=n_pe, codebook=enc.codebook)
        assert r.extras["n_pe"] == n_pe
        np.testing.assert_allclose(r.outputs, w.double().numpy() @ act, atol=1e-5)
    more = sparsegrain.simulate("eie", w, act, n_pe=128, codebook=enc.codebook)
    assert more.cycles < r.cycles


def test_analytic_mode_is_a_close_lower_bound_on_random_layers():
    gen = torch.Generator().manual_seed(7)
    rng = np.random.default_rng(7)
    for rows, cols, density in ((300, 500, 0.1), (1000, 800, 0.04), (128, 2000, 0.3)):
        w = torch.randn(rows, cols, generator=gen)
        w[torch.rand(rows, cols, generator=gen) > density] = 0
        act = np.where(rng.random(cols) < 0.4, rng.random(cols), 0).astype(np.float32)
        exact = sparsegrain.simulate("eie", w, act, n_pe=32)
        bound = sparsegrain.simulate("eie", w, act, n_pe=32, mode="analytic")
        assert bound.cycles <= exact.cycles
        unbounded = sparsegrain.simulate("eie", w, act, n_pe=32, fifo_depth=1 << 20)
        assert bound.cycles == unbounded.cycles  # exact when queues never fill
        assert (exact.cycles - bound.cycles) / exact.cycles < 0.15
        assert bound.actions["int16_mul"] == exact.actions["int16_mul"]


def test_a_conv_with_many_positions_is_run_on_a_sample_of_them():
    """A convolution's output positions are separate products on one encoding: a sample of them,
    scaled, estimates the full run (here within 2 %), and says how many it ran."""
    gen = torch.Generator().manual_seed(3)
    w = torch.randn(32, 16, 3, 3, generator=gen)
    w[torch.rand(w.shape, generator=gen) < 0.7] = 0
    x = torch.relu(torch.randn(1, 16, 12, 12, generator=gen))
    full = sparsegrain.simulate("eie", w, x, padding=1, n_pe=8, max_vectors=None)
    part = sparsegrain.simulate("eie", w, x, padding=1, n_pe=8, max_vectors=72)
    assert "vectors_simulated" not in full.extras and part.extras["vectors_simulated"] == 72
    assert part.cycles == pytest.approx(full.cycles, rel=0.02)
    assert part.actions["int16_mul"] == pytest.approx(full.actions["int16_mul"], rel=0.02)
    assert full.outputs is not None and part.outputs is None


@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_pe": 0}, "n_pe must be an integer >= 1"),
        ({"fifo_depth": 1}, "fifo_depth must be an integer >= 2"),
        ({"mode": "fast"}, "mode must be 'exact' or 'analytic'"),
        ({"max_vectors": 0}, "max_vectors must be an integer >= 1 or None"),
        ({"queue": 8}, "takes no parameter queue"),
    ],
)
def test_bad_parameters(fc8, params, message):
    enc, act = fc8
    with pytest.raises(ValueError, match=message):
        sparsegrain.simulate("eie", enc, act, **params)


def test_bad_activations_and_names(fc8):
    enc, act = fc8
    with pytest.raises(ValueError, match="activations must be a vector of length 4096"):
        sparsegrain.simulate("eie", enc, act[:100])
    with pytest.raises(ValueError, match="n_pe = 32 but the weight is encoded for 64 PEs"):
        sparsegrain.simulate("eie", enc, act, n_pe=32)
    with pytest.raises(ValueError, match="unknown accelerator 'tpu'; valid: .*eie"):
        sparsegrain.simulate("tpu", enc, act)
