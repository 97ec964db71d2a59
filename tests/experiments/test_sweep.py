"""A tiny sweep end to end on digits-cnn: rows for every measurement, a rerun that is a no-op,
and an interrupted sweep that resumes at the point it was on."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sparsegrain import workloads
from sparsegrain.experiments import (
    DENSE,
    Pruning,
    ResultStore,
    SweepConfig,
    parallel,
    run_sweep,
    sweep,
)
from sparsegrain.formats import FORMATS
from sparsegrain.hardware import ACCELERATORS

pytestmark = pytest.mark.slow

TINY = SweepConfig(patterns=("unstructured", "filter"), sparsities=(0.75,),
                   accelerators=tuple(a for a in ("systolic", "eie") if a in ACCELERATORS),
                   pruning=Pruning(steps=8, every=2))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("sweep") / "results"
    return out, run_sweep(TINY, out)


def test_every_measurement_has_a_row(tiny) -> None:
    out, run = tiny
    assert run.measured == 3 and run.skipped == 0
    with ResultStore(out / "sweep.sqlite") as store:
        rows = store.rows()
    kinds = {(r.pattern, r.kind, r.target) for r in rows}
    for pattern in (DENSE, "unstructured", "filter"):
        assert (pattern, "accuracy", "") in kinds
        assert {(pattern, "format", f) for f in run.config.formats} <= kinds
        assert {(pattern, "accelerator", a) for a in TINY.accelerators} <= kinds
    assert len(run.config.formats) == len(FORMATS)
    assert len(rows) == 3 * (1 + len(FORMATS) + len(TINY.accelerators) + 1)  # + measured CPU
    acc = {r.pattern: r.result for r in rows if r.kind == "accuracy"}
    spec = workloads.get("digits-cnn")
    assert acc[DENSE]["value"] == pytest.approx(spec.evaluate(spec.load())["accuracy"])
    assert acc["unstructured"]["sparsity_actual"] == pytest.approx(0.75, abs=0.002)
    assert acc["filter"]["sparsity_actual"] == pytest.approx(0.75, abs=0.05)
    assert set(acc["filter"]["layer_sparsity"]) == set(spec.prunable(spec.load()))
    for r in rows:
        assert r.status in ("ok", "not applicable"), r.result
        if r.status == "not applicable":
            assert r.result["reason"]
    accel = {(r.pattern, r.target): r.result for r in rows if r.kind == "accelerator"}
    for key in ((DENSE, "systolic"), ("unstructured", "eie")):  # both lower convolutions
        if key[1] in TINY.accelerators:
            layers = accel[key]["layers"]
            assert set(layers) == {"conv2", "conv3", "fc1"} and not accel[key]["rejected"]
            assert accel[key]["cycles"] == sum(lay["cycles"] for lay in layers.values())


def test_a_rerun_is_a_no_op(tiny) -> None:
    out, _ = tiny
    path = out / "sweep.sqlite"
    with ResultStore(path) as store:
        before = [(r.key, r.result) for r in store.rows()]
        stamps = store.db.execute("SELECT key, created FROM results").fetchall()
    again = run_sweep(TINY, out)
    assert again.measured == 0 and again.skipped == 3
    with ResultStore(path) as store:
        assert [(r.key, r.result) for r in store.rows()] == before
        assert store.db.execute("SELECT key, created FROM results").fetchall() == stamps


def test_a_different_sweep_in_the_same_folder_is_refused(tiny) -> None:
    out, _ = tiny
    with pytest.raises(ValueError, match="another sweep"):
        run_sweep(SweepConfig(patterns=("unstructured",), sparsities=(0.5,), accelerators=()), out)


def test_an_interrupted_sweep_loses_only_the_point_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = SweepConfig(patterns=("unstructured", "kernel"), sparsities=(0.5,), accelerators=(),
                      formats=("csr",), pruning=Pruning(steps=4, every=2))
    real = parallel.measure_point
    calls: list[str] = []

    def interrupted(spec, cfg, pattern, *args, **kw):
        calls.append(pattern)
        if pattern == "kernel":
            raise KeyboardInterrupt
        return real(spec, cfg, pattern, *args, **kw)

    monkeypatch.setattr(parallel, "measure_point", interrupted)
    threads = torch.get_num_threads()
    with pytest.raises(KeyboardInterrupt):
        run_sweep(cfg, tmp_path)
    assert torch.get_num_threads() == threads
    assert calls == [DENSE, "unstructured", "kernel"]
    with ResultStore(tmp_path / "sweep.sqlite") as store:
        assert {r.pattern for r in store.rows()} == {DENSE, "unstructured"}
    monkeypatch.setattr(parallel, "measure_point", real)
    resumed = run_sweep(cfg, tmp_path)
    assert resumed.measured == 1 and resumed.skipped == 2


def test_a_sweep_parses_each_pattern_string_once(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pattern string becomes a Pattern once: the sweep's plan hands the objects to the
    points, machines and CPU timing, and a string met again is not parsed again."""
    from sparsegrain.patterns import registry

    parsed: list[str] = []
    real = registry.PATTERNS.__class__.__getitem__

    def counting(self, kind):
        if self is registry.PATTERNS:
            parsed.append(kind)
        return real(self, kind)

    cfg = SweepConfig(patterns=("unstructured", "csp:8"), sparsities=(0.5, 0.9),
                      accelerators=("eie", "csph"), formats=("csr",), pruning=Pruning(steps=0))
    monkeypatch.setattr(registry.PATTERNS.__class__, "__getitem__", counting)
    registry._parse.cache_clear()
    run_sweep(cfg, tmp_path)
    assert sorted(parsed) == ["csp", "unstructured"]


def test_the_sweep_logs_its_progress_beside_its_store(tiny) -> None:
    out, run = tiny
    lines = (out / "sweep.log").read_text().splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.endswith("sweep of 3 point(s) to measure"))
    # before it, only the dense model's training (when this run trained it)
    assert all("training the dense digits-cnn: step" in ln for ln in lines[:start])
    lines = lines[start:]
    done = [ln for ln in lines if " done (" in ln]
    assert [ln.split()[2] for ln in done] == ["1/3", "2/3", "3/3"]
    assert done[-1].endswith("about 0 s left") and lines[-1].endswith("sweep done")
    assert any(": fine-tuning" in ln or "pruning" in ln for ln in lines)  # the stages, too


def test_training_the_dense_model_shows_progress_on_console_and_in_the_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first use trains the dense model: its steps reach the console (lines, not a terminal)
    and the sweep's log, with the time left, before the sweep's own lines."""
    import io

    from rich.console import Console

    from sparsegrain.core import progress

    monkeypatch.setenv("SPARSEGRAIN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(progress, "EVERY_S", 0.0)  # every step heard: the test need not wait
    monkeypatch.setattr(sweep, "STEP_EVERY_S", 0.0)
    monkeypatch.setattr(workloads.images.ImageClassifier, "epochs", 1)
    monkeypatch.setattr(workloads.models, "_LOADED", {})
    text = io.StringIO()
    cfg = SweepConfig(patterns=("unstructured",), sparsities=(0.5,), accelerators=(),
                      formats=("csr",), pruning=Pruning(steps=2), cpu_batch=0)
    run_sweep(cfg, tmp_path / "out", console=Console(file=text, width=120))
    total = -(-1297 // 64)  # one epoch of 64-image batches over the 1,297 training digits
    said = text.getvalue()
    assert f"training the dense digits-cnn: step {total}/{total}, about 0 s left" in said
    log = (tmp_path / "out" / "sweep.log").read_text().splitlines()
    first = next(i for i, ln in enumerate(log) if "sweep of" in ln)
    assert first >= 1 and all("training the dense digits-cnn: step" in ln for ln in log[:first])
    assert "pruning, fine-tuning: step 2/2" in "\n".join(log[first:])
