"""``sparsegrain simulate``: a catalog layer end to end, JSON output, one-line errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from sparsegrain.cli import app

runner = CliRunner()


def test_simulate_catalog_layer_as_json():
    out = runner.invoke(app, ["simulate", "eie", "--workload", "eie:NT-We", "-p", "fifo_depth=4",
                              "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["accel"] == "eie" and data["layer"] == "eie:NT-We"
    assert data["extras"]["fifo_depth"] == 4
    assert abs(data["extras"]["weight_density"] - 0.10) < 0.01
    assert data["energy_pj"] == sum(data["energy_by_action"].values())


def test_simulate_errors_are_one_line():
    for args, text in [
        (["simulate", "eie", "--workload", "eie:Alex-8", "--act-density", "-0.5"], "act_density"),
        (["simulate", "nope", "--workload", "eie:Alex-8"], "unknown accelerator"),
        (["simulate", "eie", "--workload", "eie:Alex-9"], "has no layer"),
        (["simulate", "eie"], "exactly one of workload"),
        (["simulate", "eie", "--workload", "eie:Alex-8", "-p", "fifo_depth=1"], "fifo_depth"),
    ]:
        out = runner.invoke(app, args)
        assert out.exit_code == 2, out.output
        assert text in out.output and "Traceback" not in out.output


def test_simulate_picks_a_layer_of_a_weight_file(tmp_path):
    import json

    import torch
    from typer.testing import CliRunner

    from sparsegrain.cli import app

    torch.save({"a.weight": torch.randn(16, 32), "b.weight": torch.randn(8, 24)}, tmp_path / "w.pt")
    runner = CliRunner()
    res = runner.invoke(app, ["simulate", "systolic", "--weights", str(tmp_path / "w.pt"),
                              "--layer", "b", "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    assert got["layer"] == "b.weight" and got["extras"]["gemm_nkm"][:2] == [8, 24]
    bad = runner.invoke(app, ["simulate", "systolic", "--weights", str(tmp_path / "w.pt"),
                              "--layer", "zz"])
    assert bad.exit_code == 2 and "has no layer 'zz'; layers: a.weight, b.weight" in bad.output
