import numpy as np
import pytest
import torch
from hw_models import relu_input, sparse_conv

from sparsegrain.hardware import simulate


def test_conv_outputs_match_torch():
    w = sparse_conv(20, 9, density=0.4)
    x = relu_input((2, 9, 10, 11))
    r = simulate("sparten", w, x, stride=2, padding=1)
    ref = torch.conv2d(x.double(), w.double(), stride=2, padding=1).numpy()
    np.testing.assert_allclose(r.outputs, ref, atol=1e-9)


def test_fc_outputs_and_counts_equal_plain_reference():
    g = torch.Generator().manual_seed(5)
    w = torch.randn(10, 300, generator=g) * (torch.rand(10, 300, generator=g) < 0.3)
    x = relu_input((3, 300))
    r = simulate("sparten", w, x, clusters=2, cus_per_cluster=4, balance="none")
    np.testing.assert_allclose(r.outputs, (x.double() @ w.double().T).numpy(), atol=1e-9)
    # plain loops: per (pass, position) the slowest CU's sum over chunks of max(1, matches)
    a, b = (x != 0).numpy(), (w != 0).numpy()
    clusters = [0, 0]
    for p0 in range(0, 10, 4):
        for m in range(3):
            clusters[m % 2] += max(
                sum(max(1, int((a[m, j:j + 128] & b[f, j:j + 128]).sum())) for j in range(0, 300, 128))
                for f in range(p0, min(p0 + 4, 10)))
    assert r.cycles == max(clusters)
    assert r.extras["matched_pairs"] == int((a[:, None, :] & b[None, :, :]).sum())


def test_density_balance_never_slower_on_skewed_filters():
    w = torch.randn(64, 256)
    w[::2] *= torch.rand(32, 256) < 0.05  # alternate very sparse and dense filters
    x = relu_input((6, 256))
    fast = simulate("sparten", w, x, clusters=1, cus_per_cluster=8, balance="density")
    slow = simulate("sparten", w, x, clusters=1, cus_per_cluster=8, balance="none")
    assert fast.cycles < slow.cycles
    np.testing.assert_allclose(fast.outputs, slow.outputs, atol=1e-9)


def test_bad_chunk():
    with pytest.raises(ValueError, match="multiple of 64"):
        simulate("sparten", torch.randn(4, 4), None, chunk=100)


def test_one_sided_multiplies_every_activation_with_every_kept_weight():
    w = torch.randn(12, 70) * (torch.rand(12, 70) < 0.4)
    x = torch.relu(torch.randn(70))
    two = simulate("sparten", w, x)
    one = simulate("sparten", w, x, skip_activations=False)
    assert one.extras["matched_pairs"] == int((w != 0).sum())
    assert two.extras["matched_pairs"] == int(((w != 0) & (x != 0)).sum())
    np.testing.assert_allclose(one.outputs, two.outputs, atol=1e-9)
    assert one.cycles >= two.cycles


def test_inputs_that_do_not_fit_the_global_buffer_are_fetched_again_every_pass():
    """A layer whose compressed input and one pass of filters overflow the global buffer reads
    its input from DRAM once per filter pass, and writes it into the buffer as often."""
    import torch

    from sparsegrain.hardware import simulate

    g = torch.Generator().manual_seed(0)
    w = torch.randn(64, 32, 3, 3, generator=g) * (torch.rand(64, 32, 3, 3, generator=g) < 0.3)
    x = torch.relu(torch.randn(1, 32, 16, 16, generator=g))
    fits = simulate("sparten", w, x, padding=1, cus_per_cluster=16)
    small = simulate("sparten", w, x, padding=1, cus_per_cluster=16, gb_kib=4)
    assert fits.extras["input_dram_fetches"] == 1 and small.extras["input_dram_fetches"] == 4
    extra = 3 * fits.extras["input_words"]
    assert small.actions["dram_read"] == pytest.approx(fits.actions["dram_read"] + extra)
    assert small.storage["global_buffer"].writes == pytest.approx(
        fits.storage["global_buffer"].writes + extra)
    # a smaller buffer is cheaper per access (priced by size) but the refetches cost DRAM energy
    assert small.cycles == fits.cycles
    assert small.energy_by_group()["dram"] > fits.energy_by_group()["dram"]


def test_the_no_buffer_bound_reads_every_input_chunk_from_dram():
    import torch

    from sparsegrain.hardware import simulate
    from sparsegrain.hardware.sparten import with_global_buffer

    g = torch.Generator().manual_seed(1)
    w = torch.randn(32, 16, 3, 3, generator=g) * (torch.rand(32, 16, 3, 3, generator=g) < 0.3)
    x = torch.relu(torch.randn(1, 16, 12, 12, generator=g))
    r = simulate("sparten", w, x, padding=1, cus_per_cluster=8)
    bound = with_global_buffer(r, 0)
    chunks = r.extras["gb_input_reads_words"]
    assert bound.actions["dram_read"] == pytest.approx(
        r.actions["dram_read"] + chunks - r.extras["input_words"])
    assert bound.storage["global_buffer"].reads == pytest.approx(
        r.storage["global_buffer"].reads - chunks)
    assert with_global_buffer(r, 512).actions == r.actions  # it fits: nothing changes
    with pytest.raises(ValueError, match="fetched its input once"):
        with_global_buffer(with_global_buffer(r, 0.01), 512)
