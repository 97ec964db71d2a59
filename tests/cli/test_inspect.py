import json

import pytest
from typer.testing import CliRunner

from sparsegrain.cli import app
from sparsegrain.patterns import examples, pattern

runner = CliRunner()


def test_inspect_every_pattern_on_a_minilm_layer():
    r = runner.invoke(app, ["inspect", "minilm:layer.0.intermediate", "--pattern", "all",
                            "--sparsity", "0.7", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert [row["pattern"] for row in rows] == examples()
    for row in rows:
        assert row["error"] is None, row
        assert 0.0 < row["l1_kept"] <= 1.0
        fixed = pattern(row["pattern"]).structural_sparsity
        if fixed is not None:
            assert row["achieved"] == pytest.approx(fixed), row
        else:
            assert abs(row["achieved"] - 0.7) < 0.02, row
    # unstructured keeps the most magnitude of all patterns at the same sparsity
    l1 = {row["pattern"]: row["l1_kept"] for row in rows
          if pattern(row["pattern"]).structural_sparsity is None}
    assert max(l1, key=l1.get) == "unstructured"


def test_inspect_bad_input_gives_one_line_errors():
    for args in (["inspect", "minilm", "--sparsity", "1.0"],
                 ["inspect", "minilm", "--pattern", "nm:2"],
                 ["inspect", "does-not-exist.pt"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and "error:" in r.output and "Traceback" not in r.output


def test_patterns_and_workloads_list():
    r = runner.invoke(app, ["patterns"])
    assert r.exit_code == 0 and "nm:N:M" in r.output
    r = runner.invoke(app, ["workloads", "--json"])
    assert r.exit_code == 0 and "resnet50" in json.loads(r.output)
    r = runner.invoke(app, ["workloads", "nosuchnet"])
    assert r.exit_code == 2 and "valid:" in r.output


def test_every_command_has_help():
    for cmd in ("patterns", "inspect", "workloads"):
        r = runner.invoke(app, [cmd, "--help"])
        assert r.exit_code == 0 and len(r.output) > 50
