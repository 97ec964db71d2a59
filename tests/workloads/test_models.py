"""The model registry and the digits-cnn workload end to end (load, evaluate, prune, fine-tune)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from sparsegrain import workloads
from sparsegrain.prune import Gradual, PruneConfig
from sparsegrain.workloads.models import MODELS, BatchNormAnchor, ModelSpec


@pytest.fixture(scope="session")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def test_unknown_model_lists_the_valid_names() -> None:
    with pytest.raises(ValueError, match="unknown model 'resnet'; valid: ") as err:
        workloads.get("resnet")
    assert set(str(err.value).split("valid: ")[1].split(", ")) == set(MODELS)


def test_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MODELS["mnist-cnn"], "requires", (("no_such_module_xyz", "no-such-pkg"),))
    with pytest.raises(ValueError, match=r"needs the package\(s\) no-such-pkg: pip install"):
        workloads.get("mnist-cnn")


@pytest.mark.slow
def test_digits_cnn_trains_caches_prunes_and_finetunes(cache: Path) -> None:
    spec = workloads.get("digits-cnn")
    assert isinstance(spec, ModelSpec) and spec.metric == "accuracy"
    assert spec.schedule(300) == Gradual(0, 200, 13)
    model = spec.load(cache)
    dense = spec.evaluate(model)
    assert list(dense)[0] == "accuracy" and dense["accuracy"] > 0.95
    assert len(list(cache.glob("digits-cnn-*.pt"))) == 1
    again = spec.load(cache)  # from the cache: same weights
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), k
    assert spec.evaluate(again) == dense

    (x,) = spec.sample_inputs()
    assert model(x).shape == (len(x), 10)
    names = spec.prunable(model)
    assert all(model.get_submodule(n) is not None for n in names)

    cfg = PruneConfig(pattern="unstructured", sparsity=0.9, schedule=Gradual(0, 40, every=10))
    oneshot = spec.load(cache)
    spec.prune(oneshot, cfg, steps=0)
    tuned = spec.load(cache)
    result = spec.prune(tuned, cfg, steps=80)
    assert result.overall_sparsity == pytest.approx(0.9, abs=0.01)
    assert set(result.masks) == {f"{n}.weight" for n in names}
    for fqn, m in result.masks.items():
        w = tuned.get_submodule(fqn.rsplit(".", 1)[0]).weight
        assert bool((w[~m] == 0).all())
    # fine-tuning during gradual pruning recovers accuracy that one-shot pruning loses
    assert spec.evaluate(tuned)["accuracy"] > spec.evaluate(oneshot)["accuracy"]
    assert spec.evaluate(tuned)["accuracy"] > 0.9


def test_schedule_longer_than_finetuning_is_refused(cache: Path) -> None:
    spec = workloads.get("digits-cnn")
    with pytest.raises(ValueError, match="not within the 50 fine-tuning steps"):
        spec.prune(torch.nn.Sequential(torch.nn.Linear(4, 4)), PruneConfig(layers=["0"], schedule=Gradual(0, 100)), steps=50)


def test_image_split_is_cached_and_a_damaged_cache_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARSEGRAIN_CACHE", str(tmp_path))
    spec = MODELS["digits-cnn"]()
    path = tmp_path / "digits-cnn-split.pt"
    fresh = spec._split()
    assert path.is_file()
    assert all(torch.equal(getattr(spec, k), fresh[k]) for k in fresh)
    assert len(spec.x_test) == spec.test_size and spec.x_train.dtype == torch.float32
    path.write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match="digits-cnn-split.pt is unreadable"):
        again = MODELS["digits-cnn"]()
    assert torch.equal(again.x_test, fresh["x_test"]) and torch.equal(again.y_train, fresh["y_train"])
    torch.save({"x_train": torch.zeros(3)}, path)  # readable, but not a split
    with pytest.warns(UserWarning, match="not a train/test split"):
        MODELS["digits-cnn"]()
    assert torch.equal(MODELS["digits-cnn"]().x_test, fresh["x_test"])  # rebuilt, read back


def test_the_batchnorm_anchor_moves_statistics_by_the_pruning_shift_only() -> None:
    """A conv whose outputs pruning shrank and shifted: after the anchor, its BatchNorm gives the
    dense model's normalised outputs on the anchor's inputs; a second correction changes nothing."""
    torch.manual_seed(0)
    dense = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8)).eval()
    dense[1].running_mean.uniform_(-1, 1)
    dense[1].running_var.uniform_(0.5, 2)
    x = torch.randn(16, 3, 10, 10)
    anchor = BatchNormAnchor(dense, (x,))
    pruned = copy.deepcopy(dense)
    with torch.no_grad():
        pruned[0].weight.mul_(0.4)
        pruned[0].bias.add_(0.3)
        assert not torch.allclose(pruned(x).mean((0, 2, 3)), dense(x).mean((0, 2, 3)), atol=0.05)
        anchor.correct(pruned)
        torch.testing.assert_close(pruned(x).mean((0, 2, 3)), dense(x).mean((0, 2, 3)), atol=1e-4, rtol=0)
        torch.testing.assert_close(pruned(x).std((0, 2, 3)), dense(x).std((0, 2, 3)), atol=1e-4, rtol=1e-4)
        once = pruned[1].running_mean.clone()
        anchor.correct(pruned)
        torch.testing.assert_close(pruned[1].running_mean, once)


def test_anchored_fine_tuning_corrects_every_few_steps_and_after_the_last() -> None:
    """``anchored`` wraps the pruner's callback: it runs first, then the BatchNorm correction
    every ``anchor_every`` steps and after the last step; with ``anchor_every = 0`` the callback
    is returned as it is."""
    calls: list[str] = []

    class Anchor:
        def correct(self, model: torch.nn.Module) -> None:
            calls.append("anchor")

    class Spec(ModelSpec):
        anchor_every = 3
        load = evaluate = finetune = sample_inputs = prunable = lambda *a: None  # type: ignore[assignment]

    spec = Spec()
    spec._anchor = Anchor()  # type: ignore[assignment]
    step = spec.anchored(torch.nn.Linear(2, 2), 8, lambda s: calls.append(f"pruner {s}"))
    for s in range(8):
        step(s)
    assert calls == ["pruner 0", "anchor", "pruner 1", "pruner 2", "pruner 3", "anchor",
                     "pruner 4", "pruner 5", "pruner 6", "anchor", "pruner 7", "anchor"]
    plain = lambda s: None  # noqa: E731
    spec.anchor_every = 0
    assert spec.anchored(torch.nn.Linear(2, 2), 8, plain) is plain
