"""A user's workload through the sweep at its edges: every model state hashes, the Python API
takes a Workload object, user code that misbehaves is named in one line, the dense baseline is
fine-tuned like the points, workers get the parent's weights, and killing the driver of a
parallel sweep leaves no process behind."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import sparsegrain as sg
from sparsegrain.cli import app
from sparsegrain.experiments import Pruning, SweepConfig, run_sweep
from sparsegrain.experiments.store import STORE_NAME, ResultStore
from sparsegrain.workloads.workload import state_digest

from .workloads_for_tests import batchnorm_workload, data

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent
SMALL = dict(patterns=("unstructured",), sparsities=(0.5,), accelerators=("eie",),
             formats=("csr",), cpu_batch=0)


def rows_of(out: Path) -> list:
    with ResultStore(out / STORE_NAME, readonly=True) as store:
        return store.rows()


def test_every_state_a_model_holds_hashes():
    wl = batchnorm_workload()
    h = wl.weights_hash()
    assert h == batchnorm_workload().weights_hash()
    for change in (lambda m: m.bn1.num_batches_tracked.add_(1),  # 0-dim integer buffer
                   lambda m: m.scale.mul_(2),  # non-persistent buffer
                   lambda m: m.fc2_twin.weight.data[0, 0].add_(1)):  # shared parameter
        other = batchnorm_workload()
        change(other.model)
        assert other.weights_hash() != h
    assert state_digest(torch.nn.BatchNorm1d(3)) == state_digest(torch.nn.BatchNorm1d(3))


def test_the_python_api_sweeps_a_workload_object_with_batchnorm(tmp_path):
    wl = batchnorm_workload()
    wl.cpu_batch = 2
    res = sg.tradeoff(wl, **{**SMALL, "cpu_batch": None}, out=tmp_path)
    ok = res.table[res.table.status == "ok"]
    assert set(ok[ok.kind == "cpu"].batch) == {2}
    assert "batch 2 (the batch the model serves" in res.report["md"].read_text()
    assert set(ok[ok.kind == "accuracy"].pattern) == {"dense", "unstructured"}
    assert {"csr", "eie", "cpu"} <= set(ok.target)
    assert res.report["md"].is_file()
    assert callable(sg.sparsify) and "sparsify" in sg.__all__
    model = batchnorm_workload().model
    held = sum(model.get_submodule(n).weight.numel() for n in ("conv2", "fc1", "fc2"))
    total = sum(p.numel() for p in model.parameters() if p.dim() >= 2)
    share = res.table[res.table.kind == "accuracy"]
    assert f"they hold {held / total:.1%} of the model's weights" in res.report["md"].read_text()
    assert len(share) == 2


def test_the_dense_baseline_is_fine_tuned_like_the_points(tmp_path):
    wl = batchnorm_workload()
    run_sweep(SweepConfig(model="bn-net", pruning=Pruning(steps=6), **SMALL), tmp_path,
              workload=wl)
    dense = next(r for r in rows_of(tmp_path) if r.pattern == "dense" and r.kind == "accuracy")
    model = copy.deepcopy(wl.model)
    torch.manual_seed(0)
    wl.finetune(model, 6, lambda _: None)
    assert dense.result["value"] == wl.evaluate(model.eval())
    assert dense.config["pruning"]["steps"] == 6


@pytest.mark.parametrize("change, message", [
    (dict(finetune=None), None),  # control: one-shot, stored pruned
    ("no callback", "finetune called its callback 0 time"),
])
def test_a_finetune_that_never_calls_back_is_an_error_not_an_unpruned_point(tmp_path, change,
                                                                           message):
    from .workloads_for_tests import finetune_fn

    x, y = data()
    fields = change if isinstance(change, dict) else dict(finetune=finetune_fn(x, y, calls=False))
    run_sweep(SweepConfig(model="bn-net", **SMALL), tmp_path, workload=batchnorm_workload(**fields))
    point = next(r for r in rows_of(tmp_path) if r.pattern == "unstructured" and r.kind == "accuracy")
    if message is None:
        assert point.status == "ok" and point.result["sparsity_actual"] == pytest.approx(0.5, abs=0.01)
    else:
        assert point.status == "error" and message in point.result["reason"]


def _exits(model):
    sys.exit(0)


def _mutates(model):
    model.train()
    model(data()[0][:8])  # BatchNorm statistics move
    return 0.5


@pytest.mark.parametrize("evaluate, message", [
    (lambda m: "0.9", "evaluate returned accuracy='0.9'; return a number"),
    (lambda m: True, "evaluate returned accuracy=True; return a number"),
    (_exits, "evaluate failed: sys.exit(0)"),
    (_mutates, "evaluate changed the model's weights or buffers"),
    (lambda m: 1 / 0, "evaluate failed: ZeroDivisionError"),
])
def test_a_misbehaving_evaluate_stops_the_sweep_with_one_line(tmp_path, evaluate, message):
    with pytest.raises(ValueError, match="dense baseline failed") as e:
        run_sweep(SweepConfig(model="bn-net", **SMALL), tmp_path,
                  workload=batchnorm_workload(evaluate=evaluate))
    assert message in str(e.value) and "\n" not in str(e.value)
    assert not [r for r in rows_of(tmp_path) if r.kind == "accuracy"]


@pytest.mark.parametrize("inputs, message", [
    ("text", "sample_inputs gave str"),
    (torch.zeros(0, 1, 16), "0 samples"),
    (lambda: 1 / 0, "sample_inputs failed: ZeroDivisionError"),
])
def test_malformed_sample_inputs_are_named(tmp_path, inputs, message):
    with pytest.raises(ValueError, match="dense baseline failed") as e:
        run_sweep(SweepConfig(model="bn-net", **SMALL), tmp_path,
                  workload=batchnorm_workload(sample_inputs=inputs))
    assert message in str(e.value)


def test_a_sys_exit_in_user_code_is_one_line_from_the_cli(tmp_path):
    ref = f"{HERE / 'workloads_for_tests.py'}:exiting"
    res = CliRunner().invoke(app, ["tradeoff", "--model", ref, "--patterns", "unstructured",
                                   "--sparsity", "0.5", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "sys.exit(0)" in lines[0] and "Traceback" not in res.output


def test_workers_get_the_parents_weights_not_a_rebuilt_model(tmp_path):
    ref = f"{HERE / 'workloads_for_tests.py'}:unseeded"
    cfg = SweepConfig(model=ref, patterns=("unstructured", "filter"), sparsities=(0.5,),
                      accelerators=(), formats=("csr",), pruning=Pruning(steps=4, every=2),
                      cpu_batch=0)
    run_sweep(cfg, tmp_path, workers=2)
    rows = rows_of(tmp_path)
    assert {r.status for r in rows} == {"ok"}, [r.result for r in rows if r.status != "ok"]


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_killing_the_driver_of_a_parallel_sweep_leaves_no_process(tmp_path):
    exe = Path(sys.executable).with_name("sparsegrain")
    driver = subprocess.Popen([str(exe), "tradeoff", "--workers", "2", "--steps", "300",
                               "--patterns", "unstructured,filter,kernel", "--sparsity", "0.5,0.9",
                               "--accelerators", "", "--formats", "csr", "--out",
                               str(tmp_path / "o")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    seen: set[int] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(seen) < 4:  # fork server, manager, two workers
        seen |= _descendants(driver.pid)
        time.sleep(0.2)
    assert len(seen) >= 4, "the workers never started"
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(p) for p in seen):
        time.sleep(0.2)
    assert not [p for p in seen if _alive(p)]
