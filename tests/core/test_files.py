"""Output folders: writes are atomic, never go through a link, and one writer holds a folder."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

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


def test_a_second_writer_is_refused_and_a_dead_ones_lock_is_taken_over(tmp_path):
    with FolderLock(tmp_path, "first"):
        with pytest.raises(ValueError, match=r"in use by first \(pid \d+ on "):
            FolderLock(tmp_path, "second").acquire()
    assert not (tmp_path / LOCK_NAME).exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (tmp_path / LOCK_NAME).write_text(json.dumps(
        {"pid": int(dead), "host": socket.gethostname(), "task": "killed sweep"}))
    with pytest.warns(UserWarning, match="no longer runs"):
        with FolderLock(tmp_path, "third"):
            pass
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "elsewhere", "task": "x"}))
    with pytest.raises(ValueError, match="on elsewhere"):
        FolderLock(tmp_path, "fourth").acquire()


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
