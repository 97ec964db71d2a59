"""sparsify swaps pruned layers for sparse-kernel layers whose outputs equal the dense model's."""

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

import sparsegrain as sg
from sparsegrain.deploy import SparseConv2d, SparseLinear, sparsify
from sparsegrain.prune.pruner import Mask


def small_net(gen) -> nn.Module:
    torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=gen)))
    return nn.Sequential(
        nn.Conv2d(4, 8, 3, padding=1, stride=2), nn.ReLU(),
        nn.Flatten(), nn.Linear(8 * 4 * 4, 32), nn.ReLU(), nn.Linear(32, 10),
    )


def pruned_net(gen, spec: str, sparsity: float) -> nn.Module:
    """small_net with every layer's weight zeroed outside ``spec``'s mask."""
    net = small_net(gen)
    for m in (net[0], net[3], net[5]):
        with torch.no_grad():
            m.weight.mul_(sg.pattern(spec).mask(m.weight, sparsity))
    return net


def test_zeros_parametrizations_and_torch_prune_all_count(gen):
    net = small_net(gen)
    conv, fc1, fc2 = net[0], net[3], net[5]
    with torch.no_grad():  # plain zeros
        conv.weight.mul_(sg.pattern("unstructured").mask(conv.weight, 0.7))
    torch.nn.utils.parametrize.register_parametrization(  # sparsegrain's mask parametrization
        fc1, "weight", Mask(sg.pattern("nm:2:4").mask(fc1.weight, 0.5))
    )
    prune.l1_unstructured(fc2, "weight", amount=0.8)  # torch.nn.utils.prune
    x = torch.randn(5, 4, 8, 8, generator=gen)
    want = net(x)
    fast = sparsify(net, format="csr", keep_dense_if_slower=False)
    assert fast is net
    assert isinstance(fast[0], SparseConv2d)
    assert isinstance(fast[3], SparseLinear) and isinstance(fast[5], SparseLinear)
    torch.testing.assert_close(fast(x), want, rtol=1e-4, atol=1e-5)
    assert [c.chosen for c in fast.sparsify_report] == ["csr"] * 3
    assert fast.sparsify_report[0].sparsity == pytest.approx(0.7, abs=0.01)


def test_auto_times_every_candidate_and_keeps_outputs(gen):
    net = pruned_net(gen, "nm:2:4", 0.5)
    x = torch.randn(3, 4, 8, 8, generator=gen)
    want = net(x)
    fast = sparsify(net, batch=16)
    for choice in fast.sparsify_report:
        assert "dense" in choice.times_ms and "csr" in choice.times_ms
        assert choice.chosen == min(choice.times_ms, key=choice.times_ms.get)
    torch.testing.assert_close(fast(x), want, rtol=1e-4, atol=1e-5)


def test_model_without_pruned_layers_says_so(gen):
    with pytest.raises(ValueError, match="no pruned Linear, Conv1d, Conv2d, LSTM or GRU layer"):
        sparsify(nn.Sequential(nn.Linear(4, 4)))
    with pytest.raises(ValueError, match="unknown kernel format 'nosuch'"):
        net = small_net(gen)
        with torch.no_grad():
            net[5].weight[0] = 0
        sparsify(net, format="nosuch")


def test_16_bit_values_halve_value_bytes_and_round_like_float16(gen, tmp_path):
    net = pruned_net(gen, "unstructured", 0.8)
    x = torch.randn(4, 4, 8, 8, generator=gen)
    rounded = small_net(gen)
    rounded.load_state_dict(net.state_dict())
    for m in (rounded[0], rounded[3], rounded[5]):
        with torch.no_grad():
            m.weight.copy_(m.weight.half().float())
    want = rounded(x)
    fast = sparsify(net, format="csr", keep_dense_if_slower=False, value_bits=16, cache=False)
    assert [c.chosen for c in fast.sparsify_report] == ["csr fp16"] * 3
    assert fast[3].kernel.value_bits == 16 and fast[3].kernel.data.itemsize == 2
    torch.testing.assert_close(fast(x), want, rtol=1e-4, atol=1e-5)
    path = tmp_path / "net.safetensors"
    sg.save(fast, path)
    back = sg.load(path, small_net(gen))
    assert torch.equal(back(x), fast(x))
    assert back[3].kernel.value_bits == 16


def test_4_bit_values_share_a_codebook_per_layer_and_save_as_codes(gen, tmp_path):
    """value_bits=4: each layer's kept weights become 15 k-means centroids (and zero), stored as
    4-bit codes; the model computes as the dense model with those shared weights."""
    from sparsegrain.kernels.codes import Codes

    net = pruned_net(gen, "unstructured", 0.8)
    x = torch.randn(4, 4, 8, 8, generator=gen)
    shared = copy.deepcopy(net)
    fast = sparsify(net, format="csr", keep_dense_if_slower=False, value_bits=4, cache=False)
    assert [c.chosen for c in fast.sparsify_report] == ["csr 4-bit"] * 3
    dense = copy.deepcopy(shared)
    for i in (0, 3, 5):
        enc, kernel = fast[i].kernel.encoded, fast[i].kernel
        assert enc.fmt == "codebook" and enc.inner.fmt == "csr" and isinstance(kernel.data, Codes)
        assert len(torch.unique(enc.decode())) <= 16
        assert kernel.data.nbytes == -(-kernel.data.size // 2) + 64  # half a byte a value
        with torch.no_grad():
            shared[i].weight.copy_(enc.decode())
    torch.testing.assert_close(fast(x), shared(x), rtol=1e-4, atol=1e-5)
    assert not torch.allclose(fast(x), dense(x), rtol=1e-3, atol=1e-4)  # the sharing is real
    path = tmp_path / "net.safetensors"
    sg.save(fast, path)
    back = sg.load(path, small_net(gen))
    assert torch.equal(back(x), fast(x)) and back[3].kernel.value_bits == 4


@pytest.mark.parametrize("fmt, pattern", [("nm", "nm:2:8"), ("gs", "gs:8:1"), ("csp", "csp:4"),
                                          ("bcsr", "block:4x4")])
def test_4_bit_values_in_every_structured_format(gen, fmt, pattern):
    """The codes sit in any kernel format, encoded with the parameters its pattern implies."""
    net = nn.Sequential(nn.Linear(64, 32))
    with torch.no_grad():
        net[0].weight.mul_(sg.pattern(pattern).mask(net[0].weight, 0.75))
    fast = sparsify(net, format=fmt, pattern=pattern, keep_dense_if_slower=False, value_bits=4,
                    cache=False)
    enc = fast[0].kernel.encoded
    assert enc.fmt == "codebook" and enc.inner.fmt == fmt and fast[0].kernel.value_bits == 4
    x = torch.randn(9, 64, generator=gen)
    want = x @ enc.decode().T + fast[0].bias
    torch.testing.assert_close(fast(x), want, rtol=1e-4, atol=1e-5)


def test_value_bits_other_than_32_16_or_4_are_refused(gen):
    net = small_net(gen)
    with torch.no_grad():
        net[5].weight[0] = 0
    with pytest.raises(ValueError, match="value_bits must be one of 32, 16, 4, got 8"):
        sparsify(net, value_bits=8)


@pytest.mark.parametrize("fmt", ["csr", "gs"])
def test_one_row_calls_add_the_current_bias_inside_the_kernel_call(fmt):
    """The one-row path hands the bias to the kernel call as a numpy view; a bias replaced or
    written later is the one used."""
    from sparsegrain import pattern

    torch.manual_seed(3)
    dense = torch.nn.Linear(64, 32)
    with torch.no_grad():
        dense.weight.mul_(pattern("gs:8:1").mask(dense.weight, 0.75))
    model = torch.nn.Sequential(copy.deepcopy(dense))
    sparsify(model, format=fmt, keep_dense_if_slower=False, cache=False)
    x = torch.randn(1, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), dense(x), atol=1e-5, rtol=1e-5)
        model[0].bias = torch.full((32,), 2.0)  # a new buffer: the cached view must follow
        dense.bias.fill_(2.0)
        torch.testing.assert_close(model(x), dense(x), atol=1e-5, rtol=1e-5)
        model[0].bias.fill_(-1.0)  # written in place: the view shares its memory
        dense.bias.fill_(-1.0)
        torch.testing.assert_close(model(x), dense(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("rows", [1, 20])
def test_sparse_linear_adds_a_bias_of_another_dtype_and_sees_it_replaced(rows):
    """The kernels add the bias as they store; a bias buffer that ``.to()`` made float64, or
    that an assignment replaced, is what the next call adds."""
    from sparsegrain.kernels.build import kernel_for

    gen = torch.Generator().manual_seed(rows)
    w = torch.randn(32, 64, generator=gen)
    w[torch.rand(32, 64, generator=gen) < 0.9] = 0
    layer = SparseLinear(kernel_for(w, "csr"), torch.randn(32, generator=gen))
    x = torch.randn(rows, 64, generator=gen)
    torch.testing.assert_close(layer(x), x @ w.T + layer.bias, atol=1e-5, rtol=1e-5)
    layer._buffers["bias"] = layer.bias.double()
    torch.testing.assert_close(layer(x), x @ w.T + layer.bias.float(), atol=1e-5, rtol=1e-5)
    layer._buffers["bias"] = torch.ones(32)
    torch.testing.assert_close(layer(x), x @ w.T + 1, atol=1e-5, rtol=1e-5)
