"""bench --peers: every installed engine gives the same product and is timed in the same run."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sparsegrain.benchmarking.peers import KERNEL, LAYER, OURS, bench_peers, ours
from sparsegrain.cli import app


def test_every_engine_is_timed_on_every_cell() -> None:
    rows, missing = bench_peers((128, 96), ["unstructured", "block:4x4"], 0.8, [1, 20], rounds=2)
    assert len(rows) == 4
    for r in rows:
        assert {KERNEL, LAYER, "torch dense", "torch CSR", "scipy CSR"} <= set(r.ms)
        assert all(t > 0 for t in r.ms.values())
        assert r.best_peer not in (KERNEL, LAYER)
        assert r.vs_best_peer == {n: r.ms[r.best_peer] / r.ms[n] for n in (KERNEL, LAYER)}
        assert r.layer_format.split(":")[0] in ("csr", "bcsr") and r.to_dict()["layer_format"]
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
    alone = CliRunner().invoke(app, ["bench", "--value-bits", "16"])
    assert alone.exit_code == 2 and "--value-bits goes with --peers" in alone.output
    odd = CliRunner().invoke(app, ["bench", "--peers", "--value-bits", "8"])
    assert odd.exit_code == 2 and "--value-bits takes 16 or 4, got 8" in odd.output


def test_narrow_value_kernels_are_timed_beside_and_never_counted_peers() -> None:
    run = CliRunner().invoke(app, ["bench", "--peers", "--value-bits", "16", "--value-bits", "4",
                                   "--shape", "64x96", "--batch", "1,16", "--pattern",
                                   "unstructured", "--reps", "1", "--json"])
    assert run.exit_code == 0, run.output
    data = json.loads(run.stdout[run.stdout.index("{"):])
    names = [ours(16), ours(4)]
    assert names == ["sparsegrain fp16", "sparsegrain 4-bit"]
    assert all(set(r["vs_best_peer"]) == {KERNEL, *names, LAYER} for r in data["rows"])
    rows, _ = bench_peers((64, 96), ["gs:8:1"], 0.9, [1, 16], rounds=1, value_bits=(4,))
    for r in rows:
        assert r.best_peer not in OURS
        assert r.vs_best_peer[ours(4)] == r.ms[r.best_peer] / r.ms[ours(4)]
        assert r.to_dict()["vs_best_peer"] == r.vs_best_peer


@pytest.mark.parametrize("spec", ["nm:1:8", "gs:8:1", "csp:8"])
def test_structured_patterns_run_against_peers(spec: str) -> None:
    rows, _ = bench_peers((64, 64), [spec], 0.875 if spec.startswith("nm") else 0.9, [3],
                          rounds=1)
    assert rows[0].ms[KERNEL] > 0
