"""A report killed while it writes leaves the previous report whole, and the next run takes over
the lock the killed one left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sparsegrain.core.files import LOCK_NAME
from sparsegrain.experiments import Pruning, SweepConfig, run_sweep
from sparsegrain.report import report_sweep

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_sigkill_during_a_report_leaves_the_previous_one(tmp_path):
    out = tmp_path / "sweep"
    cfg = SweepConfig(patterns=("unstructured",), sparsities=(0.8,), accelerators=(),
                      formats=("csr",), pruning=Pruning(steps=0), cpu_batch=0)
    report_sweep(out, run_sweep(cfg, out).config)
    files = ["report.md", "report.html", "plots/accuracy_vs_sparsity.png",
             "plots/accuracy_vs_sparsity.pdf"]
    before = {f: (out / f).read_bytes() for f in files}
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sparsegrain", "report", str(out)], env=env,
                   check=True, capture_output=True)
    whole = time.perf_counter() - start
    for k in range(8):  # kills spread over the run, from imports to the last file
        p = subprocess.Popen([sys.executable, "-m", "sparsegrain", "report", str(out)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(whole * (0.3 + 0.7 * k / 8))
        p.send_signal(signal.SIGKILL)
        p.wait()
        for f in files:
            assert (out / f).read_bytes() == before[f], (k, f)
    res = subprocess.run([sys.executable, "-m", "sparsegrain", "report", str(out)], env=env,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert not (out / LOCK_NAME).exists()
    assert not list(out.rglob(".*.tmp"))  # the killed writers' leftovers are gone
    assert {f: (out / f).read_bytes() for f in files} == before
