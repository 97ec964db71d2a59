"""``sparsegrain reproduce eie``: table, JSON and plots from the EIE benchmark layers."""

from __future__ import annotations

import json

import pytest

from typer.testing import CliRunner

from sparsegrain.cli import app
from sparsegrain.studies.eie import REPORT_FILES, measure_eie_layer
from sparsegrain.hardware.base import EnergyTable
from sparsegrain.workloads import LayerShape

runner = CliRunner()


@pytest.mark.slow
def test_reproduce_eie_writes_table_json_and_plots(tmp_path):
    out = runner.invoke(app, ["reproduce", "eie", "--quick", "--layers", "NT-We",
                              "--out", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "NT-We" in out.output
    for name in REPORT_FILES:
        assert (tmp_path / name).stat().st_size > 0, name
    (run,) = json.loads((tmp_path / "results.json").read_text())
    assert run["shape"] == [600, 4096]
    assert abs(run["weight_density"] - 0.10) < 0.005 and abs(run["act_density"] - 1.0) < 1e-9
    assert run["theoretical_us"] <= run["actual_us"]
    assert run["cpu_dense_us"] > 0 and run["cpu_sparse_us"] > 0 and run["cpu_kernel_us"] > 0
    assert "| NT-We | 4096x600 |" in (tmp_path / "table.md").read_text()


def test_sweeps_deeper_queues_and_more_pes_help():
    layer = LayerShape("t", "fc", 2048, 512, weight_density=0.1, act_density=0.4)
    run = measure_eie_layer(layer, seed=1, depths=(2, 8, 64), pes=(1, 8, 64), table=EnergyTable.load())
    eff = [run.efficiency_by_depth[d] for d in (2, 8, 64)]
    assert eff[0] < eff[1] <= eff[2] <= 1
    cycles = [run.cycles_by_pes[p] for p in (1, 8, 64)]
    assert cycles[0] > cycles[1] > cycles[2]
    assert run.cycles_by_pes[64] == run.cycles


def test_unknown_layer_is_a_one_line_error(tmp_path):
    out = runner.invoke(app, ["reproduce", "eie", "--layers", "Alex-9", "--out", str(tmp_path)])
    assert out.exit_code == 2 and "unknown EIE layer Alex-9" in out.output


def test_existing_report_is_kept_without_overwrite(tmp_path):
    (tmp_path / "table.md").write_text("mine")
    out = runner.invoke(app, ["reproduce", "eie", "--layers", "NT-We", "--out", str(tmp_path)])
    assert out.exit_code == 2 and "--overwrite" in out.output
    assert (tmp_path / "table.md").read_text() == "mine"
