"""Dense baselines: the systolic array against SCALE-Sim, the SIMD core, and their errors."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

import sparsegrain

SCALESIM_CONFIG = """\
[general]
run_name = crosscheck

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: 1024
FilterSramSzkB: 1024
OfmapSramSzkB: 1024
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Dataflow: {dataflow}
Bandwidth: 10
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport: false
SparseRep: ellpack_block
OptimizedMapping: false
BlockSize: 8
RandomNumberGeneratorSeed: 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""

#: GEMM shapes (M input columns, N outputs, K reduction), small: SCALE-Sim is slow
SHAPES = [(20, 30, 40), (64, 16, 100), (7, 50, 9), (1, 96, 128)]


def scalesim_cycles(tmp: Path, rows: int, cols: int, dataflow: str) -> list[int]:
    """SCALE-Sim 3.0.0's compute cycles of SHAPES, read from its per-layer compute report."""
    from scalesim.scale_sim import scalesim

    (tmp / "arch.cfg").write_text(SCALESIM_CONFIG.format(rows=rows, cols=cols, dataflow=dataflow))
    # its GEMM reader drops the last comma-separated field, so every row ends with a comma
    rows_csv = "".join(f"l{i}, {m}, {n}, {k},\n" for i, (m, n, k) in enumerate(SHAPES))
    (tmp / "topo.csv").write_text("Layer, M, N, K,\n" + rows_csv)
    (tmp / "layout.csv").write_text("Layer,\n")  # a header-only layout: default layouts
    sim = scalesim(save_disk_space=True, verbose=False, config=str(tmp / "arch.cfg"),
                   topology=str(tmp / "topo.csv"), layout=str(tmp / "layout.csv"),
                   input_type_gemm=True)
    sim.run_scale(top_path=str(tmp / "out"))
    report = next((tmp / "out").rglob("COMPUTE_REPORT.csv"))
    with report.open() as f:
        table = list(csv.reader(f, skipinitialspace=True))
    column = table[0].index("Total Cycles")
    return [int(float(row[column])) for row in table[1:]]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # inside SCALE-Sim, numpy scalar casts
@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_systolic_compute_cycles_match_scalesim(tmp_path, dataflow):
    theirs = scalesim_cycles(tmp_path, 8, 8, dataflow)
    gen = torch.Generator().manual_seed(0)
    for (m, n, k), ref in zip(SHAPES, theirs):
        w, x = torch.randn(n, k, generator=gen), torch.randn(m, k, generator=gen)  # a batch of m
        r = sparsegrain.simulate("systolic", w, x, rows=8, cols=8, dataflow=dataflow)
        assert abs(r.cycles - ref) / ref < 0.05, (m, n, k, r.cycles, ref)
        np.testing.assert_allclose(r.outputs, (x @ w.T).numpy(), rtol=1e-5, atol=1e-5)


def test_dense_models_count_every_mac_whatever_the_sparsity():
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(64, 256, generator=gen)
    x = torch.randn(256, generator=gen)
    sparse_w = torch.where(torch.rand(64, 256, generator=gen) < 0.1, w, 0.0)
    for accel in ("systolic", "simd"):
        dense = sparsegrain.simulate(accel, w, x)
        sparse = sparsegrain.simulate(accel, sparse_w, x)
        assert dense.cycles == sparse.cycles
        assert dense.actions["int16_mul"] == sparse.actions["int16_mul"] == 64 * 256
        assert 0 < dense.utilization <= 1


def test_simd_cycles_scale_with_lanes():
    w, x = torch.ones(100, 1000), torch.ones(1000)
    r8 = sparsegrain.simulate("simd", w, x, lanes=8)
    r32 = sparsegrain.simulate("simd", w, x, lanes=32)
    assert r8.cycles == 100 * 125 + 3 and r32.cycles == 100 * 32 + 5
    assert r8.outputs[0] == 1000


@pytest.mark.parametrize(
    "accel, params, message",
    [
        ("systolic", {"rows": 0}, "rows must be an integer >= 1"),
        ("systolic", {"dataflow": "is"}, "dataflow must be one of ws, os"),
        ("simd", {"lanes": -4}, "lanes must be an integer >= 1"),
        ("simd", {"precision": "int4"}, "precision must be one of"),
    ],
)
def test_bad_parameters(accel, params, message):
    with pytest.raises(ValueError, match=message):
        sparsegrain.simulate(accel, torch.ones(4, 4), torch.ones(4), **params)


def test_activation_shape_mismatch():
    with pytest.raises(ValueError, match=r"4 inputs needs activations shaped \(4,\) or \(N, 4\)"):
        sparsegrain.simulate("systolic", torch.ones(4, 4), torch.ones(5))


@pytest.mark.parametrize("accel", ["systolic", "simd"])
def test_dense_baselines_lower_a_convolution_themselves(accel):
    gen = torch.Generator().manual_seed(2)
    w, x = torch.randn(6, 3, 3, 3, generator=gen), torch.randn(2, 3, 7, 7, generator=gen)
    r = sparsegrain.simulate(accel, w, x, stride=2, padding=1)
    ref = torch.conv2d(x, w, stride=2, padding=1)
    np.testing.assert_allclose(r.outputs, ref.numpy(), rtol=1e-5, atol=1e-5)
    assert r.extras["gemm_nkm"] == [6, 27, 2 * 4 * 4]  # outputs, K = Kh*Kw*C_in, M = positions
