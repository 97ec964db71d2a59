"""The results store: one SQLite file in the output folder, one row per measurement.

A row is keyed by a hash of the full configuration that produced it (model, pattern, sparsity,
seed, pruning recipe, what was measured), so a rerun skips what is done. All rows of a point are
written in one transaction: killing a sweep loses at most the point in flight.

Folder rules (:func:`open_store`), so that nothing a user has is overwritten silently:

- a missing or empty folder, or one already holding this same sweep's store: go on (a rerun
  only adds what is missing);
- a folder whose store holds a different sweep: refused, unless ``resume`` (add this sweep's rows
  to that store; the report then shows this sweep's rows) or ``force`` (delete that store file,
  and only it, then start afresh);
- a non-empty folder with no store: refused unless ``force``, because the report files would
  replace files of the same name. ``force`` never deletes anything but the store file.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import time
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..core.files import LOCK_NAME, same_file

STORE_NAME = "sweep.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS sweeps (
    fingerprint TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    pattern TEXT NOT NULL,
    sparsity REAL NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    result TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pruned (
    key TEXT PRIMARY KEY,
    pattern TEXT NOT NULL,
    sparsity REAL NOT NULL,
    seed INTEGER NOT NULL,
    state BLOB NOT NULL
);
"""

#: row statuses: measured; the format or accelerator cannot take the mask (with the reason);
#: or a measurement failed (with the error)
OK, NOT_APPLICABLE, ERROR = "ok", "not applicable", "error"


@dataclass
class Pending:
    """A point pruned in a worker whose CPU latency the parent times once the workers are done:
    the key its CPU row will have, the point, and the pruned model's state."""

    key: str
    pattern: str
    sparsity: float
    seed: int
    state: dict[str, Any]


@dataclass
class Row:
    """One measurement: ``kind`` is accuracy, format or accelerator; ``target`` names the format
    or accelerator (empty for accuracy)."""

    key: str
    model: str
    pattern: str
    sparsity: float
    kind: str
    target: str
    seed: int
    status: str
    config: dict[str, Any]
    result: dict[str, Any]


class ResultStore:
    """An open results store (use :func:`open_store` to apply the folder rules)."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        """Open (creating its tables) the store at ``path``; ``readonly`` opens an existing
        file without writing anything to it (a report only reads)."""
        self.path = Path(path)
        if readonly:
            self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            return
        check_not_linked(self.path)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise ValueError(f"cannot open the store {self.path}: {e.strerror or e}") from None
        try:
            self.db = sqlite3.connect(self.path)
            # the file SQLite opened must be the one just opened without following links
            if not same_file(fd, self.path):
                self.db.close()
                raise ValueError(f"{self.path} was replaced while being opened; rerun")
        finally:
            os.close(fd)
        with self._readable(), self._writing():
            self.db.executescript(SCHEMA)

    @contextmanager
    def _readable(self):
        """SQLite's errors on a damaged or foreign file as one line naming the file."""
        try:
            yield
        except sqlite3.DatabaseError as e:
            raise ValueError(f"{self.path} is not a readable sweep store ({e}); move it away, or "
                             "rerun the sweep into another folder") from None

    @contextmanager
    def _writing(self):
        """SQLite's errors on a write (a full disk, a read-only folder) as one line; the
        transaction is rolled back, so the store keeps every point committed before."""
        try:
            with self.db:
                yield
        except (sqlite3.OperationalError, sqlite3.DatabaseError) as e:
            raise ValueError(f"cannot write to the store {self.path}: {e}; the points stored "
                             "before are kept (free space, then rerun the same command)") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sweeps(self) -> dict[str, dict[str, Any]]:
        """Fingerprint -> configuration of every sweep recorded in this store."""
        with self._readable():
            if not self._has_table("sweeps"):
                return {}
            rows = self.db.execute("SELECT fingerprint, config FROM sweeps ORDER BY created")
            try:
                return {f: json.loads(c) for f, c in rows}
            except (ValueError, TypeError) as e:
                raise ValueError(f"{self.path} records a sweep that is not JSON ({e}); rerun "
                                 "the sweep into another folder") from None

    def _has_table(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                               (name,)).fetchone() is not None

    def add_sweep(self, fingerprint: str, config: dict[str, Any]) -> None:
        with self._writing():
            self.db.execute(
                "INSERT OR IGNORE INTO sweeps VALUES (?, ?, ?)",
                (fingerprint, json.dumps(config, sort_keys=True), time.time()),
            )

    def has(self, keys: Iterable[str]) -> bool:
        """Are all ``keys`` stored?"""
        keys = list(keys)
        marks = ",".join("?" * len(keys))
        (n,) = self.db.execute(f"SELECT COUNT(*) FROM results WHERE key IN ({marks})", keys).fetchone()
        return n == len(set(keys))

    def commit_point(self, rows: list[Row], pending: Pending | None = None) -> None:
        """Write every row of one point in a single transaction (replacing same-key rows), with
        the pruned model's state when its CPU latency is still to be timed (``pending``)."""
        with self._writing():
            if pending is not None:
                buf = io.BytesIO()
                torch.save(pending.state, buf)
                self.db.execute("INSERT OR REPLACE INTO pruned VALUES (?, ?, ?, ?, ?)",
                                (pending.key, pending.pattern, pending.sparsity, pending.seed,
                                 buf.getvalue()))
            self._insert(rows)

    def _insert(self, rows: list[Row]) -> None:
        now = time.time()
        self.db.executemany(
            "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(r.key, r.model, r.pattern, r.sparsity, r.kind, r.target, r.seed, r.status,
              json.dumps(r.config, sort_keys=True), json.dumps(r.result), now) for r in rows])

    def waiting(self, keys: Iterable[str]) -> set[str]:
        """Those of ``keys`` under which a pruned model waits for its CPU timing."""
        keys = list(keys)
        marks = ",".join("?" * len(keys))
        return {k for (k,) in self.db.execute(
            f"SELECT key FROM pruned WHERE key IN ({marks})", keys)} if keys else set()

    def pending(self, keys: Iterable[str]) -> list[Pending]:
        """The pruned models stored under ``keys`` whose CPU latency is still to be timed."""
        keys = list(keys)
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        cur = self.db.execute(
            f"SELECT key, pattern, sparsity, seed, state FROM pruned WHERE key IN ({marks})", keys)
        return [Pending(k, p, s, seed, torch.load(io.BytesIO(blob), weights_only=True))
                for k, p, s, seed, blob in cur.fetchall()]

    def commit_timing(self, row: Row) -> None:
        """Write a point's measured-CPU row and drop its stored pruned model, together."""
        with self._writing():
            self.db.execute("DELETE FROM pruned WHERE key = ?", (row.key,))
            self._insert([row])

    def rows(self, keys: Iterable[str] | None = None) -> list[Row]:
        """Stored rows, all or those with the given keys, in insertion order."""
        cols = "key, model, pattern, sparsity, kind, target, seed, status, config, result"
        with self._readable():
            if keys is None:
                cur = self.db.execute(f"SELECT {cols} FROM results ORDER BY rowid")
            else:
                keys = list(keys)
                marks = ",".join("?" * len(keys))
                cur = self.db.execute(
                    f"SELECT {cols} FROM results WHERE key IN ({marks}) ORDER BY rowid", keys)
            try:
                return [Row(*r[:8], config=json.loads(r[8]), result=json.loads(r[9]))
                        for r in cur.fetchall()]
            except (ValueError, TypeError) as e:
                raise ValueError(f"{self.path} holds a row that is not JSON ({e}); rerun the "
                                 "sweep into another folder") from None


def open_store(
    out: Path, fingerprint: str, config: dict[str, Any], resume: bool = False, force: bool = False
) -> ResultStore:
    """Open (or create) the store in folder ``out`` for sweep ``fingerprint``, by the folder rules
    in this module's docstring; a refusal is a ValueError saying what is there and what to pass."""
    if resume and force:
        raise ValueError("--resume and --force exclude each other: resume keeps the store, "
                         "force replaces it")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output {out} exists and is not a folder")
    path = out / STORE_NAME
    check_not_linked(path)
    if path.exists() and path.stat().st_size == 0:
        path.unlink()  # a store whose first write failed (a full disk): nothing in it to keep
    if path.exists():
        known = _recorded_sweeps(path)
        if known is None and not force:
            raise ValueError(f"{path} is not a readable sweep store; move it away or pass "
                             f"--force to replace it")
        if known is not None and fingerprint not in known and not (resume or force):
            plain = json.loads(json.dumps(config))  # tuples as the stored lists
            same = [c for c in known.values() if c.get("weights") != plain.get("weights")
                    and {**c, "weights": None} == {**plain, "weights": None}]
            if same:
                raise ValueError(
                    f"{out} holds this sweep on other weights of model {config.get('model')} "
                    f"(weights {same[-1].get('weights') or 'unhashed'}, now "
                    f"{config.get('weights')}): the model changed, so nothing stored applies; "
                    "pass --resume to measure it beside the old results, --force to replace "
                    "them, or choose another output folder"
                )
            raise ValueError(
                f"{out} holds the store of another sweep ({_describe(known)}); pass --resume "
                f"to add this sweep to it, --force to replace that store, or choose another "
                f"output folder"
            )
        if force and (known is None or fingerprint not in known):
            for suffix in ("", *SIDE_FILES):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    elif out.exists() and any(p.name != LOCK_NAME for p in out.iterdir()) and not force:
        raise ValueError(
            f"{out} is not empty and holds no sweep store; choose an empty or new folder, or pass "
            f"--force to write the store and report there (files named like the report's are "
            f"replaced, nothing else is touched)"
        )
    out.mkdir(parents=True, exist_ok=True)
    store = ResultStore(path)
    store.add_sweep(fingerprint, config)
    return store


#: the files SQLite keeps beside a store
SIDE_FILES = ("-journal", "-wal", "-shm")


def check_not_linked(path: Path) -> None:
    """A ValueError if the store or a file SQLite keeps beside it is a symbolic link (writing
    would go into whatever it points to)."""
    for p in (path, *(Path(f"{path}{s}") for s in SIDE_FILES)):
        if p.is_symlink():
            raise ValueError(f"{p} is a symbolic link; refusing to write through it (remove it, "
                             "or choose another output folder)")


def _recorded_sweeps(path: Path) -> dict[str, dict[str, Any]] | None:
    """The sweeps a store file records, or None if it is not a store."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT fingerprint, config FROM sweeps").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return None
    return {f: json.loads(c) for f, c in rows}


def _describe(sweeps: dict[str, dict[str, Any]]) -> str:
    if not sweeps:
        return "no sweep recorded"
    parts = []
    for cfg in sweeps.values():
        parts.append(f"model {cfg.get('model')}, patterns {','.join(cfg.get('patterns', []))}, "
                     f"sparsity {','.join(str(s) for s in cfg.get('sparsities', []))}")
    return "; ".join(parts)
