"""Cutting channels across layers: exact wherever it cuts, and a reason wherever it does not."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from sparsegrain import sparsify
from sparsegrain.deploy.shrink import BorderFold, shrink


class Net(nn.Module):
    """conv -> BN -> ReLU -> conv (no padding) -> BN -> ReLU -> max pool -> flatten -> linear
    -> ReLU -> linear: every kind of step between two layers that shrink follows."""

    def __init__(self, pad2: int = 0) -> None:
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16)
        self.c2, self.b2 = nn.Conv2d(16, 32, 3, padding=pad2), nn.BatchNorm2d(32)
        self.pool, self.flat = nn.MaxPool2d(2, padding=1), nn.Flatten()
        side = (8 + 2 * pad2 - 2) // 2 + 1
        self.l1, self.l2 = nn.Linear(32 * side * side, 20), nn.Linear(20, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.b1(self.c1(x)))
        x = self.pool(torch.relu(self.b2(self.c2(x))))
        return self.l2(torch.relu(self.l1(self.flat(x))))


def pruned(pad2: int = 0) -> Net:
    torch.manual_seed(0)
    m = Net(pad2)
    for b in (m.b1, m.b2):  # statistics and affine terms far from identity
        b.running_mean.normal_()
        b.running_var.uniform_(0.5, 2.0)
        b.weight.data.normal_()
        b.bias.data.normal_()
    with torch.no_grad():
        m.c1.weight[[1, 5, 7]] = 0  # filters emptied: their bias, normalised, is a constant
        m.c2.weight[[0, 3, 9, 10]] = 0
        m.l1.weight[[2, 4]] = 0
        m.l2.weight[:, 6] = 0  # an input l2 no longer reads
    return m.eval()


def test_cuts_are_exact_across_batchnorm_pooling_and_flatten():
    m = pruned()
    x = torch.randn(4, 3, 8, 8)
    before = m(x)
    report = shrink(m)
    removed = {c.layer: c.removed for c in report.cuts}
    assert removed == {"c1": 3, "c2": 4, "l1": 3, "l2": 0}
    assert (m.c1.out_channels, m.b1.num_features, m.c2.in_channels) == (13, 13, 13)
    assert (m.c2.out_channels, m.b2.num_features, m.l1.in_features) == (28, 28, 28 * 16)
    assert (m.l1.out_features, m.l2.in_features) == (17, 17)
    torch.testing.assert_close(m(x), before, atol=1e-5, rtol=1e-5)
    assert report.removed == 10 and "the model's output" in report.cuts[-1].reason


def test_constants_into_a_padded_convolution_go_through_a_border_map():
    """With padding the border taps read zeros, not the emptied channel's constant: the cut
    planes' contribution is kept as a map (BorderFold), exact at the borders too; channels the
    ReLU makes 0 need none."""
    m = pruned(pad2=1)
    x = torch.randn(2, 3, 8, 8)
    before = m(x)
    with torch.no_grad():
        carried = torch.relu(m.b1(m.c1.bias[None, :, None, None]))[0, [1, 5, 7], 0, 0]
    nonzero = int((carried != 0).sum())
    assert 0 < nonzero < 3  # both cases occur in this model
    report = shrink(m)
    assert report.cuts[0].removed == 3 and m.c1.out_channels == 13
    assert isinstance(m.c2, BorderFold) and m.c2.cut_values.numel() == nonzero
    assert report.cuts[1].removed == 4 and m.c2.conv.out_channels == 28
    assert m.c2.cut_weight.shape[0] == 28  # it followed the convolution's own cut
    torch.testing.assert_close(m(x), before, atol=1e-5, rtol=1e-5)
    assert len(m.c2._maps) == 1
    m.c2(torch.randn(1, 13, 6, 6))  # another input size: another map
    assert len(m.c2._maps) == 2


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x) + x)


def test_layers_whose_output_mixes_with_others_are_left_with_the_reason():
    m = Residual().eval()
    with torch.no_grad():
        m.a.weight[:3] = 0
    report = shrink(m)
    assert report.removed == 0 and "addition" in report.cuts[0].reason
    assert m.a.out_features == 8


def test_masked_weights_train_mode_and_untraceable_models_are_refused_or_left():
    m = pruned()
    parametrize.register_parametrization(m.c1, "weight", nn.Identity())
    assert "parametrization" in shrink(m).cuts[0].reason
    with pytest.raises(ValueError, match="eval mode"):
        shrink(pruned().train())

    class Branchy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.a(x) if x.sum() > 0 else x

    assert "not traceable" in shrink(Branchy().eval()).cuts[0].reason


def test_an_untraceable_model_is_shrunk_part_by_part():
    """Control flow on values stops fx at the top; a traceable child is cut on its own, and
    what leaves it (its last layer's output) is left."""

    class Gated(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 12), nn.Tanh(),
                                      nn.Linear(12, 4))
            self.head = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.body(x)
            return self.head(y) if y.sum() > 0 else self.head(-y)

    torch.manual_seed(1)
    m = Gated().eval()
    with torch.no_grad():
        m.body[0].weight[[0, 3, 7]] = 0
        m.body[2].weight[[1, 2]] = 0
    x = torch.randn(5, 6)
    before = m(x)
    report = shrink(m)
    assert "not traceable" in report.cuts[0].reason
    removed = {c.layer: c.removed for c in report.cuts}
    assert removed["body.0"] == 3 and removed["body.2"] == 2 and removed["body.4"] == 0
    assert m.body[0].out_features == 9 and m.body[4].in_features == 10
    torch.testing.assert_close(m(x), before, atol=1e-6, rtol=1e-6)


def test_sparsify_shrinks_first_when_asked():
    m = pruned()
    x = torch.randn(4, 3, 8, 8)
    before = m(x)
    out = sparsify(m, shrink=True, inputs=(x,), cache=False)
    assert out.shrink_report.removed == 10 and out.c1.out_channels == 13
    torch.testing.assert_close(out(x), before, atol=1e-4, rtol=1e-4)


def test_a_conv1d_chain_with_padding_is_exact():
    m = nn.Sequential(nn.Conv1d(2, 6, 3), nn.ReLU(), nn.Conv1d(6, 3, 5, padding=2)).eval()
    with torch.no_grad():
        m[0].weight[[1, 4]] = 0
        m[0].bias[[1, 4]] = torch.tensor([0.5, -0.5])  # one passes the ReLU, one does not
    x = torch.randn(3, 2, 11)
    before = m(x)
    cut = shrink(m).cuts[0]
    assert cut.removed == 2 and isinstance(m[2], BorderFold)
    torch.testing.assert_close(m(x), before, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("pad2", [0, 1])
def test_a_shrunk_sparsified_model_saves_and_loads_into_the_unshrunk_skeleton(tmp_path, pad2):
    """The skeleton's layers and BatchNorms take the shrunk sizes (and border maps) the file
    records; outputs are the saved model's exactly."""
    from sparsegrain import load, save

    x = torch.randn(2, 3, 8, 8)
    m = pruned(pad2)
    with torch.no_grad():
        m.c2.weight[torch.rand(m.c2.weight.shape) < 0.5] = 0  # sparse layers beside the cuts
        m.l1.weight[torch.rand(m.l1.weight.shape) < 0.5] = 0
    before = m(x)
    sparsify(m, shrink=True, inputs=(x,), cache=False, format="csr", keep_dense_if_slower=False)
    assert any(c.chosen == "csr" for c in m.sparsify_report)
    torch.testing.assert_close(m(x), before, atol=1e-4, rtol=1e-4)  # a folded conv sparse too
    save(m, tmp_path / "m.safetensors")
    skeleton = Net(pad2).eval()
    loaded = load(tmp_path / "m.safetensors", skeleton)
    assert loaded is skeleton and isinstance(loaded.c2, BorderFold) == bool(pad2)
    assert loaded.b1.num_features == 13 and type(loaded.c1) is type(m.c1)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), m(x), rtol=0, atol=0)


def test_a_shrunk_file_that_does_not_fit_leaves_the_skeleton_as_it_was(tmp_path):
    from sparsegrain import load, save

    m = sparsify(pruned(1), shrink=True, inputs=(torch.randn(2, 3, 8, 8),), cache=False,
                 format="csr", keep_dense_if_slower=False)
    save(m, tmp_path / "m.safetensors")
    skeleton = Net(1).eval()
    skeleton.l2 = nn.Linear(20, 7)  # another head: nothing else may change
    before = dict(skeleton.named_modules())
    with pytest.raises(ValueError, match="l2"):
        load(tmp_path / "m.safetensors", skeleton)
    assert dict(skeleton.named_modules()) == before
    assert skeleton.c1.out_channels == 16 and not isinstance(skeleton.c2, BorderFold)


@pytest.mark.parametrize("mode", ["zeros", "reflect"])
def test_padding_modes_and_unbatched_inputs_stay_exact(mode):
    """Zero padding needs the border map; reflect padding reads the constant itself, so the
    bias fold is exact there. An unbatched input gets the map without a batch dimension."""
    torch.manual_seed(2)
    m = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(),
                      nn.Conv2d(8, 4, 3, padding=1, padding_mode=mode)).eval()
    with torch.no_grad():
        m[0].weight[[2, 5]] = 0
        m[0].bias[[2, 5]] = torch.tensor([0.7, 0.3])
    x = torch.randn(3, 9, 9)  # unbatched
    before = m(x)
    assert shrink(m).cuts[0].removed == 2
    assert isinstance(m[2], BorderFold) == (mode == "zeros")
    torch.testing.assert_close(m(x), before, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(m(x[None])[0], before, atol=1e-6, rtol=1e-6)
