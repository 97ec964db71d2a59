"""bench --peers: every installed engine gives the same product and is timed in the same run."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sparsegrain.cli import app
from sparsegrain.kernels.peers import HALF, KERNEL, bench_peers


def test_every_engine_is_timed_on_every_cell() -> None:
    rows, missing = bench_peers((128, 96), ["unstructured", "block:4x4"], 0.8, [1, 20], rounds=2)
    assert len(rows) == 4
    for r in rows:
        assert {KERNEL, "torch dense", "torch CSR", "scipy CSR"} <= set(r.ms)
        assert all(t > 0 for t in r.ms.values())
        assert r.best_peer != KERNEL and r.vs_best_peer == r.ms[r.best_peer] / r.ms[KERNEL]
    assert "torch BSR" in rows[2].ms and "torch BSR" not in rows[0].ms
    assert not missing, missing  # the dev extra installs sparsegrain[peers]
    assert "MKL sparse" in rows[0].ms and "onnxruntime dense" in rows[0].ms


def test_cli_prints_the_table_and_json() -> None:
    run = CliRunner().invoke(app, ["bench", "--peers", "--shape", "64x64", "--batch", "1,8",
                                   "--pattern", "unstructured", "--reps", "1", "--json"])
    assert run.exit_code == 0, run.output
    data = json.loads(run.stdout[run.stdout.index("{"):])
    assert len(data["rows"]) == 2 and data["rows"][1]["batch"] == 8
    bad = CliRunner().invoke(app, ["bench", "--peers", "--shape", "1000000x1000000"])
    assert bad.exit_code == 2 and "GiB" in bad.output
    alone = CliRunner().invoke(app, ["bench", "--fp16"])
    assert alone.exit_code == 2 and "--fp16 goes with --peers" in alone.output


def test_the_float16_kernel_is_timed_beside_and_never_counted_a_peer() -> None:
    run = CliRunner().invoke(app, ["bench", "--peers", "--fp16", "--shape", "64x96", "--batch",
                                   "1,16", "--pattern", "unstructured", "--reps", "1", "--json"])
    assert run.exit_code == 0, run.output
    data = json.loads(run.stdout[run.stdout.index("{"):])
    assert all(HALF in r["ms"] and r["half_vs_best_peer"] > 0 for r in data["rows"])
    rows, _ = bench_peers((64, 96), ["gs:8:1"], 0.9, [1, 16], rounds=1, half=True)
    for r in rows:
        assert r.best_peer not in (KERNEL, HALF)
        assert r.half_vs_best_peer == r.ms[r.best_peer] / r.ms[HALF]
        assert r.to_dict()["half_vs_best_peer"] == r.half_vs_best_peer


@pytest.mark.parametrize("spec", ["nm:1:8", "gs:8:1", "csp:8"])
def test_structured_patterns_run_against_peers(spec: str) -> None:
    rows, _ = bench_peers((64, 64), [spec], 0.875 if spec.startswith("nm") else 0.9, [3],
                          rounds=1)
    assert rows[0].ms[KERNEL] > 0
