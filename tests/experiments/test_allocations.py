"""The sensitivity scan, the sweep under each allocation, and the measured-CPU rows, on a small
workload whose metric is how closely the pruned model reproduces the dense one."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

import sparsegrain as sg
from sparsegrain.cli import app
from sparsegrain.experiments import ResultStore, SweepConfig, run_sweep
from sparsegrain.experiments.config import Pruning, point_config
from sparsegrain.experiments.sensitivity import scan
from sparsegrain.experiments.store import STORE_NAME
from sparsegrain.report.summary import summarize

X = torch.randn(64, 32, generator=torch.Generator().manual_seed(0))


def workload() -> sg.Workload:
    """A four-layer MLP whose layer 4 tolerates pruning better than layer 2; the metric is 1 - relative error of its output against the dense one."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                          nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 8)).eval()
    with torch.no_grad():  # layer 4 carries its signal in 10 % of its weights: cheap to prune
        model[4].weight.mul_(torch.where(torch.rand(64, 64) < 0.9, 0.01, 1.0))
        ref = model(X)

    def fidelity(m: nn.Module) -> float:
        return 1.0 - float((m(X) - ref).norm() / ref.norm())

    return sg.Workload(model, fidelity, X, metric="fidelity", name="mlp")


def test_the_scan_covers_every_layer_and_sparsity_and_finds_the_inert_layer():
    res = scan(workload(), "unstructured", (0.5, 0.9))
    assert list(res.points) == ["2", "4"]  # first and last stay dense by default
    assert res.sizes == {"2": 64 * 64, "4": 64 * 64}
    assert [s for s, _ in res.points["2"]] == pytest.approx([0.5, 0.9], abs=0.001)
    assert res.dense == pytest.approx(1.0)
    drop = {n: d[-1][1] for n, d in res.drops().items()}
    assert drop["4"] < drop["2"]
    alloc = res.allocate(0.7)
    assert alloc["4"] > alloc["2"]
    assert (alloc["2"] + alloc["4"]) / 2 == pytest.approx(0.7, abs=1e-6)


def test_the_scan_refuses_an_unknown_layer():
    with pytest.raises(ValueError, match="not a prunable layer of mlp; prunable: 2, 4"):
        scan(workload(), "unstructured", (0.5,), layers=["9"])


def test_the_cli_writes_the_table_and_the_plot(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "allocation_workload", sys.modules[__name__])
    ref = "allocation_workload:workload"
    res = CliRunner().invoke(app, ["sensitivity", "--model", ref, "-p", "block:4x4",
                                   "--sparsity", "0.5,0.8", "--out", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["pattern"] == "block:4x4" and set(data["points"]) == {"2", "4"}
    assert (tmp_path / "sensitivity.png").read_bytes()[:4] == b"\x89PNG"
    assert "| 2 | 4096 |" in (tmp_path / "sensitivity.md").read_text()
    bad = CliRunner().invoke(app, ["sensitivity", "--model", ref, "--layers", "x",
                                   "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "not a prunable layer" in bad.output


@pytest.mark.parametrize("allocation", ["global", "sensitivity"])
def test_a_sweep_under_an_allocation_keys_apart_and_records_it(tmp_path, allocation):
    cfg = SweepConfig(model="mlp:mlp", patterns=("unstructured",), sparsities=(0.8,),
                      accelerators=(), formats=("csr",), pruning=Pruning(steps=0),
                      allocation=allocation)
    wl = workload()
    run = run_sweep(cfg, tmp_path, workload=wl)
    with ResultStore(tmp_path / STORE_NAME) as store:
        rows = store.rows()
    acc = next(r.result for r in rows if r.kind == "accuracy" and r.pattern == "unstructured")
    assert acc["allocation"] == allocation
    assert acc["sparsity_actual"] == pytest.approx(0.8, abs=0.02)
    layer = acc["layer_sparsity"]
    assert layer["4"] > layer["2"]  # the inert layer takes more of the target
    uniform = point_config(SweepConfig(model="mlp:mlp", weights=run.config.weights),
                           "unstructured", 0.8, 0)
    assert point_config(run.config, "unstructured", 0.8, 0) != uniform


def test_the_measured_cpu_is_a_row_per_point_and_a_machine_of_the_answer(tmp_path):
    cfg = SweepConfig(model="mlp:mlp", patterns=("unstructured",), sparsities=(0.5, 0.9),
                      accelerators=(), formats=("csr",), pruning=Pruning(steps=0), cpu_batch=4)
    run_sweep(cfg, tmp_path, workload=workload())
    with ResultStore(tmp_path / STORE_NAME) as store:
        rows = store.rows()
    cpu = [r for r in rows if r.kind == "cpu"]
    assert len(cpu) == 3 and all(r.status == "ok" for r in cpu)
    for r in cpu:
        assert r.result["batch"] == 4 and r.result["dense_ms"] > 0 and r.result["sparse_ms"] > 0
        assert set(r.result["layers"]) == ({"2", "4"} if r.pattern != "dense" else set())
        if r.result["identical"]:  # every layer dense: the same model, 1x by construction
            assert r.result["speedup"] == 1.0
        else:
            assert r.result["speedup"] == r.result["dense_ms"] / r.result["sparse_ms"]
    summary = summarize(rows)
    assert summary.measured == ["cpu"] and summary.machines == ["cpu"]
    from sparsegrain.report import budget

    assert ("speedup", "cpu") in budget.machines(summary)
    ans = budget.answer(summary, 100.0)["unstructured"]
    assert ans.speedup["cpu"].value == pytest.approx(max(e.speedup["cpu"] for e in summary.entries))
    off = SweepConfig(model="mlp:mlp", patterns=("unstructured",), sparsities=(0.5,),
                      accelerators=(), formats=("csr",), pruning=Pruning(steps=0), cpu_batch=0)
    run_sweep(off, tmp_path / "off", workload=workload())
    with ResultStore(tmp_path / "off" / STORE_NAME) as store:
        assert not [r for r in store.rows() if r.kind == "cpu"]


def test_bad_allocation_and_cpu_batch_are_refused():
    with pytest.raises(ValueError, match="unknown allocation 'best'; valid: uniform, global"):
        SweepConfig(allocation="best")
    with pytest.raises(ValueError, match="cpu_batch must be an integer >= 0"):
        SweepConfig(cpu_batch=-1)
