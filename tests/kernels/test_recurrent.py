"""sparsify on recurrent and 1-D convolutional models: the sparse LSTM, GRU and Conv1d give
torch's outputs, in every layout torch takes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import sparsegrain as sg
from sparsegrain.deploy import SparseConv1d, SparseRNN
from sparsegrain.deploy.recurrent import gate_matrices


def prune(model: nn.Module, sparsity: float = 0.8) -> nn.Module:
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p[torch.rand(p.shape, generator=gen) < sparsity] = 0
    return model.eval()


class Tagger(nn.Module):
    def __init__(self, cell: type[nn.Module], bidirectional: bool, batch_first: bool) -> None:
        super().__init__()
        self.rnn = cell(12, 16, num_layers=2, bidirectional=bidirectional, batch_first=batch_first)
        self.head = nn.Linear(32 if bidirectional else 16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(x)[0])


@pytest.mark.parametrize("cell", [nn.LSTM, nn.GRU])
@pytest.mark.parametrize("bidirectional, batch_first", [(False, False), (True, True), (True, False)])
def test_a_sparsified_recurrent_model_gives_torchs_outputs(cell, bidirectional, batch_first):
    torch.manual_seed(0)
    model = prune(Tagger(cell, bidirectional, batch_first))
    x = torch.randn(3, 7, 12) if batch_first else torch.randn(7, 3, 12)
    with torch.no_grad():
        want = model(x)
    sg.sparsify(model, format="csr", keep_dense_if_slower=False, cache=False, inputs=(x,))
    assert isinstance(model.rnn, SparseRNN) and len(model.rnn.kernels) == len(
        [c for c in model.sparsify_report if ".weight_" in c.name])
    with torch.no_grad():
        got = model(x)
        assert torch.allclose(got, want, atol=1e-5)
        unbatched = x[0] if batch_first else x[:, 0]
        torch.testing.assert_close(model(unbatched), want[0] if batch_first else want[:, 0],
                                   atol=1e-5, rtol=1e-4)
    names = {c.name for c in model.sparsify_report}
    assert {f"rnn.{g}" for g in gate_matrices(nn.LSTM(12, 16, 2, bidirectional=bidirectional))
            } <= names


def test_the_lstm_state_equals_torchs():
    torch.manual_seed(0)
    rnn = prune(nn.LSTM(6, 8))
    x, h0 = torch.randn(4, 2, 6), (torch.randn(1, 2, 8), torch.randn(1, 2, 8))
    with torch.no_grad():
        out, (h, c) = rnn(x, h0)
        model = nn.Sequential(rnn)
        sg.sparsify(model, format="csr", keep_dense_if_slower=False, cache=False)
        out2, (h2, c2) = model[0](x, h0)
    for a, b in ((out, out2), (h, h2), (c, c2)):
        assert torch.allclose(a, b, atol=1e-6)


def test_a_sparsified_conv1d_model_gives_torchs_outputs():
    torch.manual_seed(0)
    model = prune(nn.Sequential(nn.Conv1d(8, 16, 5, padding=2, stride=2), nn.ReLU(),
                                nn.Conv1d(16, 16, 3, dilation=2), nn.Conv1d(16, 4, 3, padding="same")))
    x = torch.randn(4, 8, 40)
    with torch.no_grad():
        want = model(x)
    sg.sparsify(model, format="csr", keep_dense_if_slower=False, cache=False)
    assert [type(m) for m in model][:3] == [SparseConv1d, nn.ReLU, SparseConv1d]
    assert isinstance(model[3], nn.Conv1d)  # padding="same": left as it is
    with torch.no_grad():
        assert torch.allclose(model(x), want, atol=1e-5)
        assert torch.allclose(model(x[0]), want[0], atol=1e-5)


def test_a_sparsified_conv1d_model_saves_and_loads(tmp_path):
    torch.manual_seed(0)
    model = prune(nn.Sequential(nn.Conv1d(8, 16, 5, padding=2), nn.ReLU(), nn.Conv1d(16, 4, 3)))
    x = torch.randn(2, 8, 30)
    sg.sparsify(model, format="csr", keep_dense_if_slower=False, cache=False)
    with torch.no_grad():
        want = model(x)
    path = sg.save(model, tmp_path / "m.safetensors")
    skeleton = nn.Sequential(nn.Conv1d(8, 16, 5, padding=2), nn.ReLU(), nn.Conv1d(16, 4, 3))
    with torch.no_grad():
        assert torch.equal(sg.load(path, skeleton)(x), want)
    other = nn.Sequential(nn.Conv1d(8, 16, 5, padding=1), nn.ReLU(), nn.Conv1d(16, 4, 3))
    with pytest.raises(ValueError, match="padding"):
        sg.load(path, other)


def test_saving_a_sparse_recurrent_layer_says_it_is_not_written(tmp_path):
    model = prune(Tagger(nn.GRU, False, False))
    sg.sparsify(model, format="csr", keep_dense_if_slower=False, cache=False)
    with pytest.raises(ValueError, match="rnn is a sparse LSTM/GRU, which save does not write"):
        sg.save(model, tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


def test_the_whole_layer_decision_is_cached_like_a_gates(tmp_path, monkeypatch):
    from sparsegrain.deploy import autotune

    monkeypatch.setattr(autotune.Decision, "holds", lambda self, load: True)
    x = torch.randn(6, 2, 12)

    def run():
        torch.manual_seed(0)
        model = prune(Tagger(nn.LSTM, False, False))
        return sg.sparsify(model, inputs=(x,), cache=tmp_path, keep_dense_if_slower=False)

    first, again = run().sparsify_report, run().sparsify_report
    assert [c.name for c in first][-1] == "rnn" and not first[-1].cached
    assert again[-1].name == "rnn" and again[-1].cached
    assert again[-1].times_ms == first[-1].times_ms
