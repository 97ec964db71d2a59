"""Masks that empty whole channels deploy as smaller dense layers (deploy/compact.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sparsegrain.deploy import load, save, sparsify
from sparsegrain.deploy.compact import CompactLayer, kept_channels, shrinks


def channel_pruned(module: nn.Module, outputs: float, inputs: float, seed: int = 0) -> torch.Tensor:
    """Zero a share of ``module``'s output channels and input channels (and some single weights);
    returns the mask."""
    gen = torch.Generator().manual_seed(seed)
    w = module.weight
    mask = torch.rand(w.shape, generator=gen) > 0.3
    mask[torch.randperm(w.shape[0], generator=gen)[: int(outputs * w.shape[0])]] = False
    mask[:, torch.randperm(w.shape[1], generator=gen)[: int(inputs * w.shape[1])]] = False
    with torch.no_grad():
        w.mul_(mask)
    return mask


@pytest.mark.parametrize("make, x", [
    (lambda: nn.Linear(40, 24), torch.randn(5, 7, 40)),
    (lambda: nn.Linear(40, 24, bias=False), torch.randn(3, 40)),
    (lambda: nn.Conv2d(12, 16, 3, stride=2, padding=1), torch.randn(2, 12, 11, 9)),
    (lambda: nn.Conv2d(12, 16, (1, 3), dilation=(1, 2)), torch.randn(12, 8, 10)),
    (lambda: nn.Conv1d(10, 6, 5, padding=2), torch.randn(3, 10, 17)),
])
@pytest.mark.parametrize("outputs, inputs", [(0.5, 0.0), (0.0, 0.5), (0.25, 0.5)])
def test_compact_layer_equals_the_masked_dense_layer(make, x, outputs, inputs):
    torch.manual_seed(0)
    dense = make().eval()
    mask = channel_pruned(dense, outputs, inputs)
    rows, cols = kept_channels(mask)
    assert shrinks(mask)
    assert len(rows) == int(mask.reshape(mask.shape[0], -1).any(1).sum())
    compact = CompactLayer(dense, dense.weight, mask)
    assert compact.weight.shape[:2] == (len(rows), len(cols))
    assert compact.weight.numel() < dense.weight.numel()
    with torch.no_grad():
        torch.testing.assert_close(compact(x), dense(x), rtol=1e-5, atol=1e-5)


def test_a_mask_that_empties_no_channel_does_not_shrink():
    mask = torch.rand(8, 8) > 0.5
    mask[:, 0] = mask[0, :] = True
    assert not shrinks(mask) and not shrinks(torch.ones(4, 3, 3, 3, dtype=torch.bool))


def test_sparsify_times_the_compact_layer_and_keeps_the_outputs():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 32)).eval()
    channel_pruned(model[0], 0.75, 0.0)
    channel_pruned(model[2], 0.0, 0.0)  # scattered zeros only: no channel emptied
    x = torch.randn(16, 64)
    with torch.no_grad():
        want = model(x)
        sparsify(model, inputs=(x,), cache=False, keep_dense_if_slower=False)
        torch.testing.assert_close(model(x), want, rtol=1e-5, atol=1e-5)
    first, second = model.sparsify_report
    assert "compact" in first.times_ms and "compact" not in second.times_ms
    fp16 = nn.Sequential(nn.Linear(64, 256)).eval()
    channel_pruned(fp16[0], 0.75, 0.0)
    sparsify(fp16, cache=False, value_bits=16)
    assert "compact" not in fp16.sparsify_report[0].times_ms  # float32 weights: not offered


@pytest.mark.parametrize("make, x", [
    (lambda: nn.Linear(32, 64), torch.randn(3, 32)),
    (lambda: nn.Conv2d(12, 16, 3, stride=2, padding=1), torch.randn(2, 12, 11, 9)),
    (lambda: nn.Conv1d(10, 6, 5, padding="same"), torch.randn(3, 10, 17)),
])
@pytest.mark.parametrize("outputs, inputs", [(0.5, 0.0), (0.0, 0.5), (0.25, 0.5)])
def test_a_compact_layer_saves_and_loads_into_the_dense_skeleton(tmp_path, make, x, outputs,
                                                                 inputs):
    torch.manual_seed(0)
    model = nn.Sequential(make(), nn.ReLU()).eval()
    mask = channel_pruned(model[0], outputs, inputs)
    skeleton = nn.Sequential(make(), nn.ReLU()).eval()
    model[0] = CompactLayer(model[0], model[0].weight, mask)
    save(model, tmp_path / "m.safetensors")
    loaded = load(tmp_path / "m.safetensors", skeleton)
    assert isinstance(loaded[0], CompactLayer)
    assert loaded[0].weight.shape == model[0].weight.shape
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_a_compact_file_that_does_not_fit_the_skeleton_is_refused_untouched(tmp_path):
    model = nn.Sequential(nn.Linear(32, 64)).eval()
    model[0] = CompactLayer(model[0], model[0].weight, channel_pruned(model[0], 0.5, 0.0))
    save(model, tmp_path / "m.safetensors")
    for other, says in ((nn.Linear(32, 48), "has shape \\[64, 32\\], the skeleton's \\[48, 32\\]"),
                        (nn.Conv1d(32, 64, 1), "the skeleton's 0 is a Conv1d, the saved layer a Linear")):
        skeleton = nn.Sequential(other)
        before = {k: v.clone() for k, v in skeleton.state_dict().items()}
        with pytest.raises(ValueError, match=says):
            load(tmp_path / "m.safetensors", skeleton)
        assert skeleton[0] is other
        assert all(torch.equal(before[k], v) for k, v in skeleton.state_dict().items())
