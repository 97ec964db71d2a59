"""im2col convolution over an encoded weight equals torch's conv2d of the dense pruned weight."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from sparsegrain.kernels import conv2d
from sparsegrain.kernels.csr import CSRKernel
from sparsegrain.patterns import pattern, to_matrix


@given(
    seed=st.integers(0, 2**31),
    c_in=st.integers(1, 5), c_out=st.integers(1, 7), k=st.sampled_from([(1, 1), (3, 3), (2, 3)]),
    stride=st.sampled_from([(1, 1), (2, 1)]), padding=st.sampled_from([(0, 0), (1, 2)]),
    dilation=st.sampled_from([(1, 1), (2, 2)]), batch=st.integers(1, 3),
)
def test_conv_equals_torch(seed, c_in, c_out, k, stride, padding, dilation, batch):
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(c_out, c_in, *k, generator=gen)
    w = w * (torch.rand(w.shape, generator=gen) < 0.4)
    x = torch.randn(batch, c_in, 9, 8, generator=gen)
    m = to_matrix(w).numpy()
    r, c = np.nonzero(m)
    kernel = CSRKernel(m.shape, np.concatenate([[0], np.cumsum((m != 0).sum(1))]), c, m[r, c])
    got = conv2d(kernel, x, k, stride, padding, dilation)
    want = F.conv2d(x, w, stride=stride, padding=padding, dilation=dilation)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    unfolded = conv2d(kernel, x, k, stride, padding, dilation, product=kernel.linear)
    torch.testing.assert_close(unfolded, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fmt", ["csr", "gs", "bcsr"])
def test_patches_gathered_in_many_steps(fmt, monkeypatch):
    """A step of one batch tile at a time (the patch budget cut to nothing): every tile's
    patches gathered and multiplied, the positions of several samples and the padded last tile
    included."""
    from sparsegrain.kernels import conv
    from sparsegrain.kernels.build import kernel_for

    monkeypatch.setattr(conv, "PATCH_BYTES", 1)
    gen = torch.Generator().manual_seed(3)
    w = torch.randn(16, 6, 3, 3, generator=gen)
    spec = {"gs": "gs:8:1", "bcsr": "block:4x2"}.get(fmt, "unstructured")
    m = to_matrix(w) * pattern(spec).mask(to_matrix(w), 0.7)
    w = m.reshape(16, 3, 3, 6).permute(0, 3, 1, 2)  # the channel-last matrix back as a weight
    x = torch.randn(3, 6, 13, 11, generator=gen)
    kernel = kernel_for(m, fmt, **({"b": 8} if fmt == "gs" else {}))
    got = conv.conv2d(kernel, x, (3, 3), (2, 1), (1, 1))
    torch.testing.assert_close(got, F.conv2d(x, w, stride=(2, 1), padding=1), rtol=1e-4, atol=1e-4)


def test_a_non_finite_input_is_named_once():
    kernel = CSRKernel((2, 9), np.array([0, 1, 2]), [0, 4], [1.0, 2.0])
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="input holds 1 NaN or inf value"):
        conv2d(kernel, x, (3, 3))


def test_channel_mismatch_is_named():
    kernel = CSRKernel((2, 18), np.zeros(3, dtype=np.int64), [], [])
    with pytest.raises(ValueError, match="input has 3 channels but the csr weight expects 2"):
        conv2d(kernel, torch.zeros(1, 3, 5, 5), (3, 3))


@pytest.mark.parametrize("fmt, spec", [("csr", "unstructured"), ("gs", "gs:8:1"),
                                       ("nm", "nm:2:8")])
def test_the_direct_product_equals_the_patches(fmt, spec):
    """Stride 1 runs on the padded input directly: on 160 channels (column numbers past 16
    bits once multiplied by a plane), several samples, a last run of positions cut short and
    a second, smaller input in the same scratch buffer (its borders zeroed again), it gives the
    patch path's floats (which compiled graphs call) where that path sums each row in column
    order too (CSR and N:M on column panels), GS's within rounding."""
    from sparsegrain.kernels.build import kernel_for
    from sparsegrain.kernels.tuning import DIRECT_SIZES

    gen = torch.Generator().manual_seed(5)
    w = torch.randn(24, 160, 3, 3, generator=gen)
    m = to_matrix(w) * pattern(spec).mask(to_matrix(w), 0.8)
    w = m.reshape(24, 3, 3, 160).permute(0, 3, 1, 2)
    kernel = kernel_for(m, fmt, **({"b": 8} if fmt == "gs" else {}))
    for x in (torch.randn(3, 160, 21, 30, generator=gen),
              torch.randn(1, 160, 5, 7, generator=gen)):
        got = conv2d(kernel, x, (3, 3), (1, 1), (1, 1))
        torch.testing.assert_close(got, F.conv2d(x, w, padding=1), rtol=1e-4, atol=1e-3)
        patches = conv2d(kernel, x, (3, 3), (1, 1), (1, 1), product=kernel.linear)
        if fmt == "gs":
            torch.testing.assert_close(got, patches, rtol=1e-5, atol=1e-4)
        else:
            assert torch.equal(got, patches)
    for size in range(DIRECT_SIZES + 2):  # plans are kept for the last few input sizes only
        conv2d(kernel, torch.randn(1, 160, 4, 4 + size), (3, 3), (1, 1), (1, 1))
    assert len(kernel._direct) == DIRECT_SIZES


def test_sparsify_times_the_direct_product_against_the_patches(tmp_path):
    """On its real input a stride-1 layer is timed both ways (a stride-2 one has patches
    only); the choice survives save and load."""
    from torch import nn

    from sparsegrain.deploy import load, save, sparsify

    def net() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                             nn.Conv2d(16, 8, 3, stride=2)).eval()

    model = net()
    with torch.no_grad():
        for i in (0, 2):
            model[i].weight.mul_(torch.rand(model[i].weight.shape) > 0.9)
    x = torch.randn(2, 16, 12, 12)
    with torch.no_grad():
        want = model(x)
        sparsify(model, inputs=(x,), format="csr", cache=False, keep_dense_if_slower=False)
        first, second = model.sparsify_report
        assert {"csr", "csr patches"} <= set(first.times_ms)
        assert "csr patches" not in second.times_ms
        torch.testing.assert_close(model(x), want, rtol=1e-5, atol=1e-5)
        model[0].direct = False
        save(model, tmp_path / "m.safetensors")
        loaded = load(tmp_path / "m.safetensors", net())
        assert loaded[0].direct is False and loaded[2].direct is True
        assert torch.equal(loaded(x), model(x))


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_sparse_conv_output_is_laid_out_as_torchs(direct, channels_last, bias):
    """The output has the layout torch's convolution gives (contiguous, or channels-last for a
    channels-last input), so that user code viewing it as the dense output works."""
    from sparsegrain.deploy import SparseConv1d, SparseConv2d
    from sparsegrain.kernels.build import kernel_for
    from sparsegrain.patterns import to_matrix

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(8, 16, 3, padding=1, bias=bias)
    with torch.no_grad():
        conv.weight[torch.rand_like(conv.weight) < 0.8] = 0
    layer = SparseConv2d(kernel_for(to_matrix(conv.weight.detach()), "csr"), conv)
    layer.direct = direct
    x = torch.randn(2, 8, 10, 12)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        want, got = conv(x), layer(x)
    assert got.stride() == want.stride()
    torch.testing.assert_close(got.reshape(2, -1), want.reshape(2, -1), atol=1e-5, rtol=1e-5)
    conv1 = torch.nn.Conv1d(8, 16, 3, padding=1, bias=bias)
    layer1 = SparseConv1d(kernel_for(to_matrix(conv1.weight.detach()), "csr"), conv1)
    layer1.direct = direct
    with torch.no_grad():
        got1, want1 = layer1(x[:, :, 0]), conv1(x[:, :, 0])
    assert got1.is_contiguous()
    torch.testing.assert_close(got1.view(2, -1), want1.view(2, -1), atol=1e-5, rtol=1e-5)
