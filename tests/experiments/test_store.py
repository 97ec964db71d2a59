"""The results store: keyed rows, one transaction per point, and the output-folder rules
(another sweep's store is refused unless --resume or --force; --force deletes only the store)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sparsegrain.experiments.store import OK, STORE_NAME, ResultStore, Row, open_store


def row(key: str, sparsity: float = 0.5, result: dict | None = None) -> Row:
    return Row(key, "digits-cnn", "unstructured", sparsity, "accuracy", "", 0, OK,
               {"sparsity": sparsity}, result or {"value": 0.9})


def test_rows_round_trip_and_has_needs_every_key(tmp_path: Path) -> None:
    with open_store(tmp_path / "out", "sweep-a", {"model": "m"}) as store:
        store.commit_point([row("k1", result={"value": 0.25, "layers": {"fc": [1, 2]}}),
                            row("k2", 0.9)])
        assert store.has(["k1", "k2"]) and store.has(["k1"])
        assert not store.has(["k1", "k3"])
        got = store.rows(["k2", "k1"])
        assert [r.key for r in got] == ["k1", "k2"]
        assert got[0].result == {"value": 0.25, "layers": {"fc": [1, 2]}}
        assert got[1].sparsity == 0.9 and got[1].config == {"sparsity": 0.9}


def test_a_point_is_committed_whole_or_not_at_all(tmp_path: Path) -> None:
    with open_store(tmp_path, "sweep-a", {}) as store:
        bad = row("k2")
        bad.model = None  # violates NOT NULL after k1 is inserted: the point must roll back
        with pytest.raises(ValueError, match="cannot write to the store .*NOT NULL"):
            store.commit_point([row("k1"), bad])
        assert store.rows() == []
        store.commit_point([row("k1")])
    with ResultStore(tmp_path / STORE_NAME) as again:
        assert [r.key for r in again.rows()] == ["k1"]


def test_same_sweep_reopens_its_store(tmp_path: Path) -> None:
    with open_store(tmp_path, "sweep-a", {"model": "m"}) as store:
        store.commit_point([row("k1")])
    with open_store(tmp_path, "sweep-a", {"model": "m"}) as store:
        assert store.has(["k1"]) and list(store.sweeps()) == ["sweep-a"]


def test_another_sweep_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    with open_store(tmp_path, "sweep-a", {"model": "m", "patterns": ["filter"]}) as store:
        store.commit_point([row("k1")])
    before = (tmp_path / STORE_NAME).read_bytes()
    with pytest.raises(ValueError, match="another sweep.*model m, patterns filter.*--resume.*--force"):
        open_store(tmp_path, "sweep-b", {})
    assert (tmp_path / STORE_NAME).read_bytes() == before


def test_resume_adds_the_sweep_and_keeps_the_rows(tmp_path: Path) -> None:
    with open_store(tmp_path, "sweep-a", {}) as store:
        store.commit_point([row("k1")])
    with open_store(tmp_path, "sweep-b", {}, resume=True) as store:
        assert store.has(["k1"]) and list(store.sweeps()) == ["sweep-a", "sweep-b"]


def test_force_replaces_only_the_store(tmp_path: Path) -> None:
    with open_store(tmp_path, "sweep-a", {}) as store:
        store.commit_point([row("k1")])
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "report.md").write_text("old report")
    with open_store(tmp_path, "sweep-b", {}, force=True) as store:
        assert store.rows() == [] and list(store.sweeps()) == ["sweep-b"]
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "report.md").read_text() == "old report"


def test_a_non_empty_folder_without_a_store_needs_force(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(ValueError, match="not empty and holds no sweep store"):
        open_store(tmp_path, "sweep-a", {})
    assert not (tmp_path / STORE_NAME).exists()
    with open_store(tmp_path, "sweep-a", {}, force=True):
        pass
    assert (tmp_path / "thesis.tex").read_text() == "precious"


def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    (tmp_path / STORE_NAME).write_text("not a database")
    with pytest.raises(ValueError, match="not a readable sweep store"):
        open_store(tmp_path, "sweep-a", {})
    with open_store(tmp_path, "sweep-a", {}, force=True) as store:
        assert list(store.sweeps()) == ["sweep-a"]
    sqlite3.connect(tmp_path / STORE_NAME).execute("SELECT * FROM results").fetchall()


def test_resume_and_force_together_and_a_file_as_folder_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exclude each other"):
        open_store(tmp_path, "a", {}, resume=True, force=True)
    (tmp_path / "f").write_text("")
    with pytest.raises(ValueError, match="not a folder"):
        open_store(tmp_path / "f", "a", {})
