"""The pruner lifecycle: masks hold through training, squash, resume, layer kinds, criteria."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils import prune as torch_prune

from sparsegrain.prune import Gradual, OneShot, PruneConfig, Pruner


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.conv1d = nn.Conv1d(8, 8, 3, padding=1)
        self.rnn = nn.LSTM(8, 8, batch_first=True, bidirectional=True)
        self.gru = nn.GRU(16, 8, batch_first=True)
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv(x)).mean(2)  # (B, 8, W)
        h = torch.relu(self.conv1d(h)).transpose(1, 2)  # (B, W, 8)
        h, _ = self.rnn(h)
        h, _ = self.gru(h)
        return self.fc(h[:, -1])


def batches(n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        yield torch.randn(6, 4, 5, 8, generator=g), torch.randint(0, 4, (6,), generator=g)


def train(model: nn.Module, pruner: Pruner, opt: torch.optim.Optimizer, data) -> None:
    for x, y in data:
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        pruner.step()


ALL = ["conv.weight", "conv1d.weight", "fc.weight"] + [
    f"rnn.weight_{k}_l0{r}" for k in ("ih", "hh") for r in ("", "_reverse")
] + ["gru.weight_ih_l0", "gru.weight_hh_l0"]


def test_masked_weights_stay_zero_through_optimizer_steps() -> None:
    torch.manual_seed(0)
    model = Net()
    pruner = Pruner()
    pruner.prepare(model, PruneConfig(pattern="unstructured", sparsity=0.6))
    assert sorted(pruner.sparsity()) == sorted(ALL)
    # momentum and weight decay would move a zeroed weight if the mask did not hold it
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-2)
    train(model, pruner, opt, batches(8))
    masks = pruner.masks()
    for fqn, m in masks.items():
        mod, name = fqn.rsplit(".", 1)
        w = getattr(model.get_submodule(mod), name)
        assert float(1 - m.float().mean()) == pytest.approx(0.6, abs=0.02)
        assert bool((w[~m] == 0).all()), fqn
        assert bool((w[m] != 0).all()), fqn


def test_prepare_leaves_model_code_and_output_until_the_first_step() -> None:
    torch.manual_seed(0)
    model = Net()
    x = torch.randn(2, 4, 5, 8)
    before = model(x)
    pruner = Pruner()
    pruner.prepare(model, PruneConfig(sparsity=0.5, layers=["fc", "rnn"]))
    assert parametrize.is_parametrized(model.fc, "weight")
    assert not parametrize.is_parametrized(model.conv)
    torch.testing.assert_close(model(x), before)
    pruner.step()
    assert not torch.allclose(model(x), before)


def test_squash_makes_zeros_permanent_and_removes_parametrizations() -> None:
    torch.manual_seed(0)
    model = Net()
    pruner = Pruner()
    pruner.prepare(model, PruneConfig(pattern="block:4x4", sparsity=0.5, layers=["fc", "conv"]))
    pruner.step()
    masks = pruner.masks()
    x = torch.randn(2, 4, 5, 8)
    out = model(x)
    pruner.squash()
    assert not parametrize.is_parametrized(model.fc)
    assert not parametrize.is_parametrized(model.conv)
    assert set(model.state_dict()) == set(Net().state_dict())
    torch.testing.assert_close(model(x), out)
    for fqn, m in masks.items():
        w = model.get_submodule(fqn.rsplit(".", 1)[0]).weight
        assert bool((w[~m] == 0).all())
    with pytest.raises(ValueError, match="call prepare"):
        pruner.step()


def test_resume_from_state_dict_matches_an_uninterrupted_run() -> None:
    cfg = PruneConfig(pattern="unstructured", sparsity=0.8, schedule=Gradual(0, 8, every=2))

    def fresh() -> tuple[Net, Pruner, torch.optim.Optimizer]:
        torch.manual_seed(0)
        m = Net()
        p = Pruner()
        p.prepare(m, cfg)
        return m, p, torch.optim.Adam(m.parameters(), lr=1e-2)

    m1, p1, o1 = fresh()
    train(m1, p1, o1, batches(12))

    m2, p2, o2 = fresh()
    data = list(batches(12))
    train(m2, p2, o2, data[:5])
    saved = (m2.state_dict(), p2.state_dict(), o2.state_dict())
    m3, p3, o3 = fresh()
    m3.load_state_dict(saved[0])
    p3.load_state_dict(saved[1])
    o3.load_state_dict(saved[2])
    assert p3.step_count == 5
    train(m3, p3, o3, data[5:])
    for fqn, m in p1.masks().items():
        assert torch.equal(m, p3.masks()[fqn]), fqn
    for (k, a), (_, b) in zip(m1.state_dict().items(), m3.state_dict().items()):
        torch.testing.assert_close(a, b, msg=k)


def test_state_dict_of_other_layers_is_refused() -> None:
    a, b = Pruner(), Pruner()
    a.prepare(Net(), PruneConfig(layers=["fc"]))
    b.prepare(Net(), PruneConfig(layers=["conv"]))
    with pytest.raises(ValueError, match="other layers"):
        b.load_state_dict(a.state_dict())


def test_oneshot_unstructured_equals_torch_l1_unstructured() -> None:
    """Cross-check against torch.nn.utils.prune (an independent implementation)."""
    torch.manual_seed(0)
    ours, ref = nn.Linear(64, 32), nn.Linear(64, 32)
    ref.load_state_dict(ours.state_dict())
    pruner = Pruner()
    pruner.prepare(nn.Sequential(ours), PruneConfig(sparsity=0.7, schedule=OneShot()))
    pruner.step()
    torch_prune.l1_unstructured(ref, "weight", amount=0.7)
    assert torch.equal(pruner.masks()["0.weight"], ref.weight_mask.bool())


def test_taylor_criterion_needs_gradients_and_ranks_by_w_times_grad() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(16, 8)
    model = nn.Sequential(layer)
    pruner = Pruner()
    pruner.prepare(model, PruneConfig(sparsity=0.5, criterion="taylor"))
    with pytest.raises(ValueError, match="backward"):
        pruner.step()
    x = torch.randn(32, 16)
    w = layer.parametrizations.weight.original.detach().clone()
    model(x).pow(2).sum().backward()
    g = layer.parametrizations.weight.original.grad.clone()
    pruner.update_masks(0)
    score = (w * g).abs().flatten()
    expect = torch.zeros(128, dtype=torch.bool)
    expect[score.topk(64).indices] = True
    assert torch.equal(pruner.masks()["0.weight"].flatten(), expect)
    by_magnitude = torch.zeros(128, dtype=torch.bool)
    by_magnitude[w.abs().flatten().topk(64).indices] = True
    assert not torch.equal(expect, by_magnitude)


def test_layers_left_dense_and_per_layer_overrides() -> None:
    model = Net()
    pruner = Pruner()
    cfg = PruneConfig(
        pattern="unstructured",
        sparsity=0.5,
        layers={"conv*": {"sparsity": 0.75}, "rnn.weight_hh_*": {"pattern": "nm:2:4"}, "fc": {}},
        dense=["conv1d"],
    )
    pruner.prepare(model, cfg)
    pruner.step()
    sp = pruner.sparsity()
    assert set(sp) == {"conv.weight", "rnn.weight_hh_l0", "rnn.weight_hh_l0_reverse", "fc.weight"}
    assert sp["conv.weight"] == pytest.approx(0.75, abs=0.01)
    assert sp["fc.weight"] == pytest.approx(0.5)
    from sparsegrain import pattern

    assert pattern("nm:2:4").is_valid(pruner.masks()["rnn.weight_hh_l0"])


def test_untileable_layer_is_an_error_or_skipped_with_a_warning() -> None:
    model = nn.Sequential(nn.Linear(6, 8), nn.Linear(8, 4))  # 6 inputs: not a multiple of 4
    with pytest.raises(ValueError, match=r"0\.weight.*nm:2:4 cannot tile.*on_untileable"):
        Pruner().prepare(model, PruneConfig(pattern="nm:2:4"))
    model = nn.Sequential(nn.Linear(6, 8), nn.Linear(8, 4))
    pruner = Pruner()
    with pytest.warns(UserWarning, match="0.weight left dense"):
        pruner.prepare(model, PruneConfig(pattern="nm:2:4", on_untileable="skip"))
    assert list(pruner.sparsity()) == ["1.weight"]
    assert "0.weight" in pruner.skipped


def test_config_naming_no_layer_is_refused() -> None:
    with pytest.raises(ValueError, match="'fc9' in the config matches no prunable layer.*conv"):
        Pruner().prepare(Net(), PruneConfig(layers=["fc9"]))


def test_huggingface_transformer_linear_layers() -> None:
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=16,
    )
    torch.manual_seed(0)
    model = transformers.BertModel(cfg).eval()
    ids = torch.randint(0, 50, (2, 7))
    pruner = Pruner()
    pruner.prepare(model, PruneConfig(pattern="block:4x4", sparsity=0.5, layers=["encoder.*"]))
    pruner.step()
    out = model(ids).last_hidden_state
    names = list(pruner.sparsity())
    assert "encoder.layer.0.attention.self.query.weight" in names
    assert "encoder.layer.0.output.dense.weight" in names
    assert all(v == pytest.approx(0.5) for v in pruner.sparsity().values())
    pruner.squash()
    torch.testing.assert_close(model(ids).last_hidden_state, out)


def test_iterative_schedule_drives_the_masks_round_by_round() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 16))
    pruner = Pruner()
    pruner.prepare(model, PruneConfig(sparsity=0.75, schedule={"kind": "iterative", "rounds": 2, "round_steps": 3}))
    seen = []
    for _ in range(7):
        pruner.step()
        seen.append(round(pruner.overall_sparsity(), 3))
    assert seen == [0.5, 0.5, 0.5, 0.75, 0.75, 0.75, 0.75]
