"""The own-model example end to end: the CLI sweeps it, changed weights are measured again, and
the report is redrawn by a process that cannot import the model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from sparsegrain.cli import app
from sparsegrain.experiments import SweepConfig, run_sweep
from sparsegrain.experiments.config import Pruning
from sparsegrain.experiments.store import STORE_NAME, ResultStore
from sparsegrain.workloads import load_workload

ROOT = Path(__file__).resolve().parents[2]
REF = f"{ROOT / 'examples' / 'own_model' / 'workload.py'}:workload"
ARGS = ["--patterns", "unstructured,gs:8:1", "--sparsity", "0.8", "--accelerators", "gs,sparten",
        "--formats", "csr,gs", "--steps", "30"]


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("own") / "sweep"
    res = CliRunner().invoke(app, ["tradeoff", "--model", REF, *ARGS, "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    return out


def test_the_cli_sweeps_a_user_workload(swept):
    with ResultStore(swept / STORE_NAME) as store:
        rows = store.rows()
    assert {r.model for r in rows} == {"tinynet-digits"}
    acc = {(r.pattern, r.sparsity): r.result for r in rows if r.kind == "accuracy"}
    assert set(acc) == {("dense", 0.0), ("unstructured", 0.8), ("gs:8:1", 0.8)}
    assert acc["dense", 0.0]["value"] > 0.9
    assert set(acc["gs:8:1", 0.8]["layer_sparsity"]) == {"conv2", "fc1"}  # first and last dense
    status = {(r.pattern, r.kind, r.target): r.status for r in rows}
    assert status["gs:8:1", "format", "gs:8:1"] == "ok"  # the gs format holds gs masks only
    assert status["unstructured", "format", "gs:8:1"] == "not applicable"
    assert all(s == "ok" for (_, kind, _), s in status.items() if kind != "format")
    assert (swept / "report.md").is_file() and (swept / "report.html").is_file()


def test_the_report_is_redrawn_without_the_model(swept, tmp_path):
    code = (
        "import sys; from typer.testing import CliRunner; from sparsegrain.cli import app; "
        f"r = CliRunner().invoke(app, ['report', {str(swept)!r}, '--json']); "
        "assert r.exit_code == 0, r.output; "
        "assert not [m for m in sys.modules if m.startswith('sparsegrain_workload_')]; "
        "print(r.output)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "tinynet-digits" in done.stdout and "gs:8:1" in done.stdout


def test_changed_weights_are_measured_again_never_served_stale(tmp_path):
    wl = load_workload(REF)
    cfg = SweepConfig(model=REF, patterns=("unstructured",), sparsities=(0.5,), accelerators=(),
                      formats=("csr",), pruning=Pruning(steps=0))
    first = run_sweep(cfg, tmp_path, workload=wl)
    assert first.measured == 2
    with torch.no_grad():
        wl.model.fc1.weight.mul_(-1.0)  # other weights, same name and configuration
    with pytest.raises(ValueError, match="on other weights of model .*the model changed"):
        run_sweep(cfg, tmp_path, workload=wl)
    again = run_sweep(cfg, tmp_path, workload=wl, resume=True)
    assert again.measured == 2 and again.config.weights != first.config.weights
    with ResultStore(tmp_path / STORE_NAME) as store:
        hashes = {json.dumps(r.config["weights"]) for r in store.rows() if r.kind == "accuracy"}
    assert len(hashes) == 2


def test_the_python_api_returns_the_table_and_the_report(tmp_path):
    import sparsegrain as sg

    res = sg.tradeoff(REF, patterns="unstructured,gs:8:1", sparsities=(0.8,), accelerators="gs",
                      formats="csr", steps=0, out=tmp_path)
    t = res.table
    assert set(t["kind"]) == {"accuracy", "format", "accelerator", "cpu"}
    assert len(t) == 3 * 4  # dense + two points, each: accuracy, csr, gs, the measured CPU
    acc = t[t["kind"] == "accuracy"].set_index("pattern")
    assert acc.loc["dense", "value"] > 0.9 and acc.loc["dense", "metric"] == "accuracy"
    assert (t[t["kind"] == "accelerator"]["cycles"] > 0).all()
    cpu = t[t["kind"] == "cpu"]
    assert (cpu["dense_ms"] > 0).all() and (cpu["sparse_ms"] > 0).all()
    assert (cpu["speedup"] > 0).all()
    assert res.report["md"].is_file()
