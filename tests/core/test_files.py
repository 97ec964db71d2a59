"""Output folders: writes are atomic, never go through a link, and one writer holds a folder."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import socket
import time
import warnings

import pytest

from sparsegrain.core.files import LOCK_NAME, FolderLock, write_atomic
from sparsegrain.experiments import Pruning, SweepConfig, run_sweep


def test_a_write_replaces_the_file_whole(tmp_path):
    write_atomic(tmp_path, "a/b.txt", "one")
    write_atomic(tmp_path, "a/b.txt", b"two")
    assert (tmp_path / "a" / "b.txt").read_text() == "two"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b.txt"]


def test_links_at_the_target_or_on_the_way_are_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.md").write_text("mine")
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").symlink_to(outside / "keep.md")
    (out / "plots").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError, match="symbolic link; refusing to overwrite"):
        write_atomic(out, "report.md", "report")
    with pytest.raises(ValueError, match="symbolic link; refusing to write through it"):
        write_atomic(out, "plots/x.png", b"png")
    with pytest.raises(ValueError, match="not a path inside"):
        write_atomic(out, "../escape.txt", "x")
    (tmp_path / "linked_out").symlink_to(out, target_is_directory=True)
    with pytest.raises(ValueError, match="output folder .* is a symbolic link"):
        write_atomic(tmp_path / "linked_out", "r.md", "x")
    assert (outside / "keep.md").read_text() == "mine"
    assert sorted(p.name for p in outside.iterdir()) == ["keep.md"]


def test_a_second_writer_is_refused_and_a_dead_ones_lock_is_taken(tmp_path):
    with FolderLock(tmp_path, "first"):
        with pytest.raises(ValueError, match=r"in use by first \(pid \d+ on "):
            FolderLock(tmp_path, "second").acquire()
    assert not (tmp_path / LOCK_NAME).exists()
    # a lock file left by a killed run (its pid possibly reused since) holds no kernel lock
    for pid in (1, os.getpid()):
        (tmp_path / LOCK_NAME).write_text(json.dumps(
            {"pid": pid, "host": socket.gethostname(), "task": "killed sweep"}))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with FolderLock(tmp_path, "third"):
                assert json.loads((tmp_path / LOCK_NAME).read_text())["task"] == "third"
    for junk in ("", "[1, 2]", "{not json"):
        (tmp_path / LOCK_NAME).write_text(junk)
        with FolderLock(tmp_path, "fourth"):
            with pytest.raises(ValueError, match="in use by fourth"):
                FolderLock(tmp_path, "fifth").acquire()


def test_a_lock_path_that_is_a_folder_or_a_link_is_one_line(tmp_path):
    (tmp_path / LOCK_NAME).mkdir()
    with pytest.raises(ValueError, match="remove it"):
        FolderLock(tmp_path, "x").acquire()
    (tmp_path / LOCK_NAME).rmdir()
    (tmp_path / "elsewhere").write_text("keep")
    (tmp_path / LOCK_NAME).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="remove it"):
        FolderLock(tmp_path, "x").acquire()
    assert (tmp_path / "elsewhere").read_text() == "keep"


def _contend(folder: str, barrier, inside, overlaps) -> None:
    """Wait for the others, then try the lock; while holding it, count who else holds it."""
    barrier.wait()
    try:
        with FolderLock(folder, "contender"):
            with inside.get_lock():
                inside.value += 1
                if inside.value > 1:
                    overlaps.value += 1
            time.sleep(0.01)
            with inside.get_lock():
                inside.value -= 1
    except ValueError:
        pass


def test_processes_started_together_never_both_hold_the_lock(tmp_path):
    ctx = mp.get_context("fork")
    overlaps = ctx.Value("i", 0)
    for i in range(150):
        barrier, inside = ctx.Barrier(3), ctx.Value("i", 0)
        procs = [ctx.Process(target=_contend, args=(str(tmp_path / str(i % 2)), barrier, inside,
                                                    overlaps)) for _ in range(3)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(10)
    assert overlaps.value == 0
    assert not any((tmp_path / str(i) / LOCK_NAME).exists() for i in range(2))


def test_a_folder_swapped_for_a_link_during_a_write_is_not_written_through(tmp_path,
                                                                           monkeypatch):
    from sparsegrain.core import files

    out, victim = tmp_path / "out", tmp_path / "victim"
    (out / "plots").mkdir(parents=True)
    victim.mkdir()
    check = files._check_target

    def swap(folder, name, shown):  # the attacker's move, after the folder was checked
        (out / "plots").rename(out / "moved")
        (out / "plots").symlink_to(victim, target_is_directory=True)
        return check(folder, name, shown)

    monkeypatch.setattr(files, "_check_target", swap)
    write_atomic(out, "plots/x.png", b"png")
    assert list(victim.iterdir()) == []
    assert (out / "moved" / "x.png").read_bytes() == b"png"


def test_a_failed_write_keeps_the_old_file_and_says_why(tmp_path, monkeypatch):
    from sparsegrain.core import files

    write_atomic(tmp_path, "r.md", "old")

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(ValueError, match="cannot write .*r.md: No space left on device"):
        write_atomic(tmp_path, "r.md", "new")
    assert (tmp_path / "r.md").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.md"]


def test_a_sweep_into_a_folder_in_use_is_refused(tmp_path):
    cfg = SweepConfig(patterns=("unstructured",), sparsities=(0.5,), accelerators=(),
                      formats=("csr",), pruning=Pruning(steps=0), cpu_batch=0)
    with FolderLock(tmp_path, "sparsegrain tradeoff"):
        with pytest.raises(ValueError, match="in use by sparsegrain tradeoff"):
            run_sweep(cfg, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == []


def test_the_report_refuses_links_planted_in_the_output_folder(tmp_path):
    from sparsegrain.report import report_sweep

    cfg = SweepConfig(patterns=("unstructured",), sparsities=(0.5,), accelerators=(),
                      formats=("csr",), pruning=Pruning(steps=0), cpu_batch=0)
    out = tmp_path / "out"
    run = run_sweep(cfg, out)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (out / "report.md").symlink_to(victim)
    with pytest.raises(ValueError, match="symbolic link"):
        report_sweep(out, run.config)
    assert victim.read_text() == "precious"
