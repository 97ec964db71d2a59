import json

import pytest
from typer.testing import CliRunner

from sparsegrain.cli import app

runner = CliRunner()


def bits_per_kept(out, pattern, fmt):
    rows = [r for r in out["total"] if r["pattern"] == pattern and r["format"] == fmt]
    assert len(rows) == 1 and "error" not in rows[0], rows
    return rows[0]["bits_per_nnz"]


@pytest.mark.slow
def test_minilm_layer_shows_the_index_saving_effect():
    r = runner.invoke(app, ["encode", "minilm:layer.0.intermediate", "--pattern",
                            "unstructured,block:4x4,csp:8", "--sparsity", "0.875",
                            "--format", "rcsc,bcsr,csp", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert {x["layer"] for x in out["layers"]} == {"encoder.layer.0.intermediate.dense.weight"}
    fine = bits_per_kept(out, "unstructured", "rcsc")
    assert bits_per_kept(out, "block:4x4", "bcsr") < fine
    assert bits_per_kept(out, "csp:8", "csp") < fine
    kept = {x["nnz"] for x in out["layers"] if "nnz" in x}
    assert len(kept) == 1  # the same density for every pattern


@pytest.mark.slow
def test_fc8_as_given_and_at_its_own_density(fc8_dir):
    r = runner.invoke(app, ["encode", str(fc8_dir), "--format", "eie,csr", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    eie = next(x for x in out["layers"] if x["format"] == "eie")
    assert eie["nnz"] == 1_051_991 and eie["bits"]["codes"] == 4 * 1_051_991
    r = runner.invoke(app, ["encode", str(fc8_dir), "--pattern", "unstructured,block:4x4",
                            "--sparsity", "0.7434", "--format", "rcsc,bcsr", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert bits_per_kept(out, "block:4x4", "bcsr") < bits_per_kept(out, "unstructured", "rcsc")


def test_table_lists_formats_that_cannot_hold_the_mask():
    r = runner.invoke(app, ["encode", "minilm:layer.0.attention.self.query", "--pattern",
                            "unstructured", "--sparsity", "0.9", "--format", "csr,nm:2:4"])
    assert r.exit_code == 0, r.output
    assert "csr" in r.output and "n/a" in r.output and "nm:2:4: row" in r.output


@pytest.mark.parametrize("args,msg", [
    (["--format", "zzz"], "unknown format"),
    (["--pattern", "unstructured"], "--pattern needs --sparsity"),
    (["--pattern", "unstructured", "--sparsity", "1.5"], "sparsity"),
    (["--format", "nm:2:x"], "malformed format"),
])
def test_bad_input_is_one_red_line(args, msg):
    r = runner.invoke(app, ["encode", "minilm:layer.0.attention.self.query", *args])
    assert r.exit_code == 2 and msg in r.output and "Traceback" not in r.output


def test_a_layer_the_pattern_cannot_tile_is_skipped_with_its_reason(tmp_path):
    import json

    import torch
    from typer.testing import CliRunner

    from sparsegrain.cli import app

    torch.save({"a.weight": torch.randn(64, 64), "b.weight": torch.randn(10, 7)}, tmp_path / "w.pt")
    res = CliRunner().invoke(app, ["encode", str(tmp_path / "w.pt"), "-p", "gs:8:1", "-s", "0.9",
                                   "-f", "csr,gs", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert [s["layer"] for s in out["skipped"]] == ["b.weight"]
    assert "cannot tile a layer of shape (10, 7)" in out["skipped"][0]["reason"]
    total = {r["format"]: r for r in out["total"]}
    assert total["gs"]["nnz"] == total["csr"]["nnz"] > 0  # summed over the tileable layer only
