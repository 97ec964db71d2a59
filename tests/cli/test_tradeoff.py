"""`sparsegrain tradeoff` and `sparsegrain report`: bad input is a one-line error listing what is
allowed; a tiny sweep writes the store and the report; the rerun measures nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sparsegrain.cli import app

runner = CliRunner()
TINY = ["tradeoff", "--patterns", "unstructured", "--sparsity", "0.8", "--accelerators", "",
        "--steps", "4"]


@pytest.mark.parametrize("args,expect", [
    (["--model", "alexnet-9000"], "unknown model 'alexnet-9000'; valid: "),
    (["--patterns", "unstructured,zigzag"], "unknown pattern 'zigzag'; valid forms:"),
    (["--accelerators", "tpu-v9"], "unknown accelerator 'tpu-v9'; valid:"),
    (["--sparsity", "0.5,1.5"], "sparsity 1.5 is outside [0, 1)"),
    (["--seeds", "one"], "seeds must be comma-separated integers"),
])
def test_bad_input_is_a_one_line_error(tmp_path: Path, args: list[str], expect: str) -> None:
    # the later occurrence of an option wins, so each case overrides these
    base = ["--patterns", "unstructured", "--accelerators", ""]
    r = runner.invoke(app, ["tradeoff", "--out", str(tmp_path / "o"), *base, *args])
    assert r.exit_code == 2
    assert expect in r.output and "Traceback" not in r.output
    assert not (tmp_path / "o").exists()


def test_report_of_a_folder_without_a_store(tmp_path: Path) -> None:
    r = runner.invoke(app, ["report", str(tmp_path)])
    assert r.exit_code == 2 and "holds no sweep store" in r.output


@pytest.mark.slow
def test_tiny_sweep_writes_store_and_report_and_rerun_is_a_no_op(tmp_path: Path) -> None:
    out = tmp_path / "results"
    r = runner.invoke(app, [*TINY, "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output[r.output.index("{"):])
    assert data["model"] == "digits-cnn" and data["metric"] == "accuracy"
    assert [p["pattern"] for p in data["points"]] == ["unstructured"]
    assert 0.0 < data["points"][0]["accuracy"] <= 1.0
    for name in ("sweep.sqlite", "report.md", "report.html", "plots/accuracy_vs_sparsity.png"):
        assert (out / name).is_file(), name
    again = runner.invoke(app, [*TINY, "--out", str(out)])
    assert again.exit_code == 0 and "0 point(s) measured, 2 already in the store" in again.output
    other = runner.invoke(app, [*TINY[:-1], "6", "--out", str(out)])
    assert other.exit_code == 2 and "another sweep" in other.output
    (out / "report.md").unlink()
    rep = runner.invoke(app, ["report", str(out)])
    assert rep.exit_code == 0 and (out / "report.md").is_file()
