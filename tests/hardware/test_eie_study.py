"""``sparsegrain reproduce eie``: table, CSV and plots from the EIE benchmark layers."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sparsegrain.cli import app
from sparsegrain.hardware.base import EnergyTable
from sparsegrain.studies.eie import measure_eie_layer
from sparsegrain.workloads import LayerShape

runner = CliRunner()


@pytest.mark.slow
def test_reproduce_eie_writes_table_csv_and_plots(tmp_path):
    out = runner.invoke(app, ["reproduce", "eie", "--quick", "--layers", "NT-We",
                              "--out", str(tmp_path), "--json"])
    assert out.exit_code == 0, out.output
    for name in ("eie.md", "eie.csv", "eie_efficiency_vs_depth.png", "eie_speedup_vs_pes.png",
                 "eie_efficiency_vs_depth.pdf"):
        assert (tmp_path / name).stat().st_size > 0, name
    (run,) = json.loads(out.stdout)["rows"]
    assert run["shape"] == "4096x600"
    assert abs(run["weights"] - 0.10) < 0.005 and abs(run["acts"] - 1.0) < 1e-9
    assert run["theoretical_us"] <= run["actual_us"]
    assert run["cpu_dense_us"] > 0 and run["cpu_torch_csr_us"] > 0 and run["cpu_kernel_us"] > 0
    assert "| NT-We | 4096x600 |" in (tmp_path / "eie.md").read_text()
    assert set(json.loads(run["efficiency_by_depth"])) == {"2", "8", "32"}


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
    (tmp_path / "eie.md").write_text("mine")
    out = runner.invoke(app, ["reproduce", "eie", "--layers", "NT-We", "--out", str(tmp_path)])
    assert out.exit_code == 2 and "overwrite" in out.output
    assert (tmp_path / "eie.md").read_text() == "mine"
