"""Points in worker processes and on a local Ray cluster give the serial run's numbers; a failing
point is tried twice, then an error row; the CPU latency of a worker's point is timed by the
parent, even after an interruption."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import torch
from torch import nn

import sparsegrain as sg
from sparsegrain.experiments import Pruning, SweepConfig, run_sweep, sweep
from sparsegrain.experiments.parallel import check_device
from sparsegrain.experiments.store import STORE_NAME, ResultStore

pytestmark = pytest.mark.slow

TINY = SweepConfig(patterns=("unstructured", "gs:8:1"), sparsities=(0.8,), accelerators=("gs",),
                   formats=("csr", "gs"), pruning=Pruning(steps=8, every=2))
#: result fields that are timings (or decided by timings), left out of the comparison
TIMED = {"seconds", "prune_s", "dense_ms", "sparse_ms", "speedup", "identical", "layers", "noise",
         "load"}


def stored(out: Path) -> dict[tuple[str, str, str], dict]:
    """Every row's non-timing figures by (key, kind, status)."""
    db = sqlite3.connect(out / STORE_NAME)
    rows = db.execute("SELECT key, kind, status, result FROM results").fetchall()
    db.close()
    return {(k, kind, st): {f: v for f, v in json.loads(res).items()
                            if not (kind == "cpu" and f in TIMED) and f not in ("seconds", "prune_s")}
            for k, kind, st, res in rows}


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("serial") / "out"
    run_sweep(TINY, out)
    return out


def test_worker_processes_store_the_serial_numbers(serial, tmp_path):
    run = run_sweep(TINY, tmp_path / "w", workers=2)
    assert run.measured == 3
    assert stored(tmp_path / "w") == stored(serial)
    with ResultStore(tmp_path / "w" / STORE_NAME) as store:
        cpu = [r for r in store.rows() if r.kind == "cpu"]
        assert len(cpu) == 3 and all(r.status == "ok" for r in cpu)
        assert store.db.execute("SELECT COUNT(*) FROM pruned").fetchone() == (0,)


def test_a_local_ray_cluster_stores_the_serial_numbers(serial, tmp_path):
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        run_sweep(TINY, tmp_path / "r", ray="local")
    finally:
        ray.shutdown()
    assert stored(tmp_path / "r") == stored(serial)


def test_timing_left_by_an_interruption_is_done_on_resume(serial, tmp_path, monkeypatch):
    real = sweep.time_stored

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep, "time_stored", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(TINY, tmp_path / "k", workers=2)
    with ResultStore(tmp_path / "k" / STORE_NAME) as store:
        assert store.db.execute("SELECT COUNT(*) FROM pruned").fetchone() == (3,)
    monkeypatch.setattr(sweep, "time_stored", real)
    again = run_sweep(TINY, tmp_path / "k", workers=2)
    assert again.measured == 0  # nothing pruned again: only timed
    assert stored(tmp_path / "k") == stored(serial)


def flaky() -> sg.Workload:
    """A workload whose evaluation fails on every pruned model."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                          nn.Linear(32, 4))
    x = torch.randn(8, 16, generator=torch.Generator().manual_seed(0))

    def evaluate(m: nn.Module) -> float:
        if bool((m[2].weight == 0).any()):
            raise RuntimeError("evaluation server went away")
        return 1.0

    return sg.Workload(model, evaluate, x, name="flaky")


def failing_rows(out, workers: int) -> list:
    cfg = SweepConfig(model="flaky:flaky", patterns=("unstructured",), sparsities=(0.5,),
                      accelerators=(), formats=("csr",), pruning=Pruning(steps=0), cpu_batch=0)
    run_sweep(cfg, out, workload=flaky(), workers=workers)
    with ResultStore(out / STORE_NAME) as store:
        return store.rows()


def test_a_failing_point_is_the_same_error_row_in_every_runner(tmp_path):
    serial, parallel = failing_rows(tmp_path / "s", 1), failing_rows(tmp_path / "p", 2)
    for rows in (serial, parallel):
        bad = [r for r in rows if r.status == "error"]
        assert len(bad) == 1 and bad[0].pattern == "unstructured"
        assert bad[0].result["reason"] == (
            "point unstructured @ 0.5 (seed 0) failed while evaluating: the workload's evaluate "
            "failed: RuntimeError: evaluation server went away")
        assert {r.pattern for r in rows if r.kind == "accuracy" and r.status == "ok"} == {"dense"}
    assert [(r.key, r.status, r.result.get("reason")) for r in serial if r.status == "error"] \
        == [(r.key, r.status, r.result.get("reason")) for r in parallel if r.status == "error"]


def test_devices():
    assert check_device("cpu") == "cpu"
    assert check_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'; valid: cpu, cuda, auto"):
        check_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            check_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fine_tuning_on_the_gpu_stores_a_valid_point(tmp_path):
    cfg = SweepConfig(patterns=("unstructured",), sparsities=(0.8,), accelerators=(),
                      formats=("csr",), pruning=Pruning(steps=8, every=2))
    run_sweep(cfg, tmp_path, device="cuda")
    with ResultStore(tmp_path / STORE_NAME) as store:
        acc = [r for r in store.rows() if r.kind == "accuracy" and r.pattern == "unstructured"]
    assert acc[0].status == "ok" and acc[0].result["sparsity_actual"] == pytest.approx(0.8, abs=0.01)


def test_a_workload_that_cannot_travel_is_a_clear_error(tmp_path):
    import threading

    wl = flaky()
    wl.version = threading.Lock()  # a lock cannot be pickled
    cfg = SweepConfig(model="flaky:flaky", patterns=("unstructured",), sparsities=(0.5,),
                      accelerators=(), formats=("csr",), pruning=Pruning(steps=0), cpu_batch=0)
    with pytest.raises(ValueError, match="cannot be sent to worker processes"):
        run_sweep(cfg, tmp_path / "out", workload=wl, workers=2)
    assert not (tmp_path / "out").exists()


def test_a_lost_worker_is_replaced_and_its_points_run_again(tmp_path):
    marker = tmp_path / "died once"
    wl = flaky()

    def evaluate(m: nn.Module) -> float:
        import os

        if bool((m[2].weight == 0).any()) and not marker.exists():
            marker.touch()
            os._exit(1)  # the worker process dies mid-point
        return 1.0

    wl.evaluate = evaluate
    cfg = SweepConfig(model="flaky:flaky", patterns=("unstructured",), sparsities=(0.5, 0.8),
                      accelerators=(), formats=("csr",), pruning=Pruning(steps=0), cpu_batch=0)
    run = run_sweep(cfg, tmp_path / "out", workload=wl, workers=2)
    assert marker.exists() and run.measured == 3
    with ResultStore(tmp_path / "out" / STORE_NAME) as store:
        acc = [r for r in store.rows() if r.kind == "accuracy"]
    assert len(acc) == 3 and all(r.status == "ok" for r in acc)


def test_a_two_node_ray_cluster_survives_losing_its_worker_node(serial, tmp_path):
    """A head and a worker node, each with one CPU of its own, the sweep attached by address:
    its rows equal the serial run's. Then the worker node is killed while the sweep runs: its
    points run again on the head, and the store ends with every row once."""
    import threading
    import time

    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        worker = cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        run_sweep(TINY, tmp_path / "two", ray=cluster.address)
        ray.shutdown()
        assert stored(tmp_path / "two") == stored(serial)

        bigger = SweepConfig(patterns=TINY.patterns, sparsities=(0.5, 0.8), accelerators=("gs",),
                             formats=TINY.formats, pruning=TINY.pruning)
        killed = threading.Event()
        stored_then: list[int] = []

        def kill_when_a_point_is_stored() -> None:
            db = tmp_path / "killed" / STORE_NAME
            count = 0
            for _ in range(1200):
                if db.exists():
                    try:
                        with sqlite3.connect(db) as con:
                            count = con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
                    except sqlite3.OperationalError:  # the store is being created
                        pass
                if count:
                    break
                time.sleep(0.05)
            cluster.remove_node(worker, allow_graceful=False)
            stored_then.append(count)
            killed.set()

        killer = threading.Thread(target=kill_when_a_point_is_stored, daemon=True)
        killer.start()
        run = run_sweep(bigger, tmp_path / "killed", ray=cluster.address)
        killer.join(timeout=60)
        assert killed.is_set()
        ray.shutdown()
        assert run.measured == len(bigger.points())
        with ResultStore(tmp_path / "killed" / STORE_NAME) as store:
            rows = store.rows()
        assert all(r.status in ("ok", "not applicable") for r in rows), [
            r.result for r in rows if r.status not in ("ok", "not applicable")]
        keys = [r.key for r in rows]
        assert len(keys) == len(set(keys))  # nothing stored twice
        per_point = 1 + len(bigger.formats) + len(bigger.accelerators) + 1  # + measured CPU
        assert len(rows) == per_point * len(bigger.points())  # nothing lost
        assert 0 < stored_then[0] < len(rows)  # the node died mid-sweep
        assert not worker.any_processes_alive()
    finally:
        ray.shutdown()
        cluster.shutdown()
