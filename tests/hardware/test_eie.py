"""The EIE model: the authors' fc8 golden, a register-transfer reference, the analytic mode."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FC8
from eie_rtl import run_rtl
from hypothesis import given
from hypothesis import strategies as st

from sparsegrain.formats.eie import read_reference
from sparsegrain.hardware.eie import (
    EIELayer,
    analytic_cycles,
    layer_from_encoded,
    simulate_layer,
    work_counts,
)


def dense_of(layer: EIELayer) -> np.ndarray:
    """Decode a layer to a dense (rows, inputs + bias) matrix, entry by entry."""
    w = np.zeros((layer.n_rows, layer.ptr.shape[1] - 1), dtype=np.float32)
    for k in range(layer.n_pe):
        for j in range(layer.ptr.shape[1] - 1):
            row = -1
            for e in range(layer.base[k] + layer.ptr[k, j], layer.base[k] + layer.ptr[k, j + 1]):
                row += int(layer.zeros_before[e]) + 1
                if layer.codes[e]:
                    w[row * layer.n_pe + k, j] = layer.codebook[layer.codes[e]]
    return w


@pytest.fixture(scope="module")
def fc8():
    if not FC8.is_dir():
        pytest.fail(f"shared data missing: {FC8} (set SPARSEGRAIN_SHARED)")
    return layer_from_encoded(read_reference(FC8)), np.fromfile(FC8 / "act.dat", dtype="<f4")


def test_fc8_golden_cycles_and_outputs(fc8):
    layer, act = fc8
    cycles, counts, y = simulate_layer(layer, act, fifo_depth=8)
    assert cycles == 7926  # the authors' simulator on the same data
    assert counts["reference_end_cycle"] == 7926
    assert counts["useful_macs"] == 453_748
    w = dense_of(layer)
    dense = w[:, :4096].astype(np.float64) @ act + w[:, 4096]
    assert np.abs(y - dense).max() < 1e-5


def test_fc8_matches_register_transfer_reference(fc8):
    layer, act = fc8
    for depth in (2, 8):
        cycles, _, y = simulate_layer(layer, act, fifo_depth=depth)
        ref_cycles, ref_y = run_rtl(layer, act, depth)
        assert cycles == ref_cycles
        np.testing.assert_array_equal(y, ref_y)


def test_fc8_deeper_queues_never_slower(fc8):
    layer, act = fc8
    cycles = [simulate_layer(layer, act, fifo_depth=d)[0] for d in (2, 3, 4, 8, 16, 64, 256)]
    assert cycles == sorted(cycles, reverse=True)
    assert cycles[0] > cycles[-1]


def test_fc8_analytic_bound(fc8):
    layer, act = fc8
    bound = analytic_cycles(layer, act)
    assert bound == simulate_layer(layer, act, fifo_depth=256)[0]  # queues never fill
    exact = simulate_layer(layer, act, fifo_depth=8)[0]
    assert bound <= exact and (exact - bound) / exact < 0.02
    _, counts, _ = simulate_layer(layer, act, fifo_depth=8)
    for key, value in work_counts(layer, act, sram_width=64).items():
        if key != "bypasses":
            assert counts[key] == value, key


def random_layer(rng: np.random.Generator, n_pe: int, n_inputs: int, has_bias: bool,
                 density: float) -> EIELayer:
    """Random per-PE slices, fillers and empty slices included (not from a dense matrix)."""
    cols = n_inputs + int(has_bias)
    rows_per_pe = 0
    ptrs, codes, zbs = [], [], []
    for _ in range(n_pe):
        counts = rng.binomial(6, density, size=cols)
        ptrs.append(np.concatenate([[0], np.cumsum(counts)]))
        c = rng.integers(1, 16, size=counts.sum())
        z = rng.integers(0, 16, size=counts.sum())
        filler = rng.random(counts.sum()) < 0.15
        last = np.cumsum(counts)[counts > 0] - 1
        filler[last] = False  # a column's last entry is real, as encoders write them
        c[filler], z[filler] = 0, 15
        codes.append(c)
        zbs.append(z)
        starts = ptrs[-1][:-1]
        for j in range(cols):
            rows_per_pe = max(rows_per_pe, int((z[starts[j]:starts[j] + counts[j]] + 1).sum()))
    book = np.concatenate([[0.0], rng.normal(size=15)]).astype(np.float32)
    return EIELayer.from_pe_lists(ptrs, codes, zbs, book, rows_per_pe * n_pe, n_inputs, has_bias)


@given(
    seed=st.integers(0, 2**31),
    n_pe=st.integers(1, 6),
    n_inputs=st.integers(1, 30),
    has_bias=st.booleans(),
    fifo_depth=st.integers(2, 9),
    density=st.floats(0.05, 0.9),
    act_density=st.floats(0.0, 1.0),
)
def test_random_layers_match_register_transfer_reference(
    seed, n_pe, n_inputs, has_bias, fifo_depth, density, act_density
):
    rng = np.random.default_rng(seed)
    layer = random_layer(rng, n_pe, n_inputs, has_bias, density)
    act = np.where(rng.random(n_inputs) < act_density, rng.exponential(size=n_inputs), 0.0)
    act = act.astype(np.float32)
    cycles, counts, y = simulate_layer(layer, act, fifo_depth=fifo_depth)
    ref_cycles, ref_y = run_rtl(layer, act, fifo_depth)
    assert counts["reference_end_cycle"] == ref_cycles
    if ref_cycles == cycles:  # the authors' end test did not cut the layer short
        np.testing.assert_array_equal(y, ref_y)
    else:
        assert ref_cycles < cycles
    values = np.concatenate([act, [1.0]]) if has_bias else act
    w = dense_of(layer)
    np.testing.assert_allclose(y, w @ values, rtol=1e-4, atol=1e-4)
    assert analytic_cycles(layer, act) <= cycles
