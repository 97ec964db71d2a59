"""``sparsegrain bench`` times dense, torch CSR and our kernel in one run and reports the ratios."""

import json

import pytest
from typer.testing import CliRunner

from sparsegrain.benchmarking.bench import crossover
from sparsegrain.cli import app

runner = CliRunner()


def test_bench_json_reports_consistent_ratios():
    r = runner.invoke(app, ["bench", "--shape", "96x80", "--batch", "1,20", "--pattern",
                            "unstructured", "--sparsity", "0.8", "--reps", "2", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert [row["batch"] for row in rows] == [1, 20]
    for row in rows:
        assert row["format"] == "csr" and row["nnz"] == round(0.2 * 96 * 80)
        assert row["speedup_vs_dense"] == pytest.approx(row["dense_ms"] / row["kernel_ms"])
        assert row["speedup_vs_torch_csr"] == pytest.approx(row["torch_csr_ms"] / row["kernel_ms"])
        assert row["gflops"] == pytest.approx(2 * row["nnz"] * row["batch"] / row["kernel_ms"] / 1e6)
        assert row["copy_gbps"] > 0 and 0 < row["bandwidth_fraction"]


def test_bench_table_and_bad_input():
    r = runner.invoke(app, ["bench", "--shape", "32x32", "--batch", "4", "--pattern",
                            "unstructured", "--reps", "1"])
    assert r.exit_code == 0 and "x torch CSR" in r.output
    for args, msg in [(["--shape", "32"], "ROWSxCOLS"), (["--batch", "0"], "positive"),
                      (["--pattern", "filter"], "no kernel runs pattern"),
                      (["--sparsity", "1.5"], "sparsity")]:
        r = runner.invoke(app, ["bench", "--reps", "1", "--shape", "16x16", "--pattern",
                                "unstructured", *args])
        assert r.exit_code == 2 and msg in r.output and "Traceback" not in r.output


def test_crossover_is_the_first_sparsity_from_which_sparse_wins():
    assert crossover([0.5, 0.7, 0.9, 0.95], [0.4, 1.2, 2.0, 3.0]) == 0.7
    assert crossover([0.5, 0.7, 0.9], [1.1, 0.9, 2.0]) == 0.9
    assert crossover([0.5, 0.7], [0.5, 0.9]) is None
