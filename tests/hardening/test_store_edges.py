"""The results store at its edges: a full disk is one line and keeps what was stored, an empty
store left by a failed first write does not block a rerun, a store or its journal planted as a
link is refused, and a store damaged inside valid SQLite gives one line from ``report``."""

from __future__ import annotations

import sqlite3

import pytest
from typer.testing import CliRunner

from sparsegrain.cli import app
from sparsegrain.experiments import Pruning, SweepConfig, run_sweep
from sparsegrain.experiments.store import OK, STORE_NAME, ResultStore, Row, open_store

TINY = SweepConfig(patterns=("unstructured",), sparsities=(0.5,), accelerators=(),
                   formats=("csr",), pruning=Pruning(steps=0), cpu_batch=0)


def row(key: str, payload: str = "") -> Row:
    return Row(key, "m", "unstructured", 0.5, "accuracy", "", 0, OK, {}, {"blob": payload})


def test_a_full_disk_is_one_line_and_keeps_the_points_before(tmp_path):
    with open_store(tmp_path, "s", {}) as store:
        store.commit_point([row("k1")])
        store.db.execute("PRAGMA max_page_count = 8")  # SQLite's own "disk is full"
        with pytest.raises(ValueError, match="cannot write to the store .* full"):
            store.commit_point([row("k2", "x" * 200_000)])
        assert [r.key for r in store.rows()] == ["k1"]


def test_an_empty_store_left_by_a_failed_first_write_does_not_block_a_rerun(tmp_path):
    (tmp_path / STORE_NAME).write_bytes(b"")
    run_sweep(TINY, tmp_path)
    with ResultStore(tmp_path / STORE_NAME, readonly=True) as store:
        assert {r.pattern for r in store.rows()} == {"dense", "unstructured"}


@pytest.mark.parametrize("name", [STORE_NAME, f"{STORE_NAME}-journal", f"{STORE_NAME}-wal"])
def test_a_store_or_journal_planted_as_a_link_is_refused(tmp_path, name):
    victim = tmp_path / "victim.sqlite"
    with open_store(tmp_path / "other", "s", {}) as store:
        store.commit_point([row("theirs")])
    victim.write_bytes((tmp_path / "other" / STORE_NAME).read_bytes())
    before = victim.read_bytes()
    out = tmp_path / "out"
    out.mkdir()
    (out / name).symlink_to(victim if name == STORE_NAME else tmp_path / "nowhere")
    with pytest.raises(ValueError, match="symbolic link; refusing to write through it"):
        run_sweep(TINY, out, force=True)
    assert victim.read_bytes() == before


@pytest.mark.parametrize("damage", [
    "UPDATE results SET result = '[1, 2]' WHERE kind = 'accuracy'",
    "UPDATE results SET result = '{}' WHERE kind = 'accuracy'",
    "UPDATE results SET result = 'not json'",
    "UPDATE sweeps SET config = '{\"model\": 3}'",
    "UPDATE sweeps SET config = '[]'",
    "DROP TABLE results",
])
def test_a_store_damaged_inside_valid_sqlite_is_one_line_from_report(tmp_path, damage):
    run_sweep(TINY, tmp_path)
    db = sqlite3.connect(tmp_path / STORE_NAME)
    db.execute(damage)
    db.commit()
    db.close()
    res = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), res.output
    assert "Traceback" not in res.output
