import numpy as np
import pytest
import torch
from hw_models import csp_mask, relu_input

from sparsegrain.hardware import simulate


def test_conv_outputs_match_torch():
    w = torch.randn(20, 6, 3, 3)
    w = w * csp_mask(w.shape, 8)
    x = relu_input((2, 6, 9, 8))
    r = simulate("csph", w, x, chunk=8, n_pe=4, stride=2, padding=1)
    ref = torch.conv2d(x.double(), w.double(), stride=2, padding=1).numpy()
    np.testing.assert_allclose(r.outputs, ref, atol=1e-9)


def test_fc_cycles_equal_plain_reference_and_passes_agree():
    w = torch.randn(50, 40)
    m = csp_mask(w.shape, 16, seed=2)
    w = w * m
    x = relu_input((7, 40))
    r = simulate("csph", w, x, chunk=16, n_pe=3)
    prefix = [(int(m[:, i].sum()) + 15) // 16 for i in range(40)]
    expected = 0
    for t0 in range(0, 7, 3):
        rows = range(t0, min(t0 + 3, 7))
        work = [sum(prefix[i] for i in range(40) if x[p, i] != 0) for p in rows]
        expected += max(work) + len(rows) - 1
    assert r.cycles == expected
    split = simulate("csph", w, x, chunk=16, n_pe=3, acc_regs=16)
    assert split.extras["passes"] == 4
    np.testing.assert_allclose(split.outputs, r.outputs, atol=1e-9)
    np.testing.assert_allclose(r.outputs, (x.double() @ w.double().T).numpy(), atol=1e-9)


def test_each_activation_read_once_per_tile():
    w = torch.randn(8, 4, 3, 3)
    x = torch.ones(4, 6, 6)
    r = simulate("csph", w, x, chunk=8, n_pe=1000)  # one tile: every input read once
    assert r.extras["gb_activation_reads"] == x.numel()
    assert r.extras["activation_uses"] == 4 * 9 * 16


def test_non_csp_mask_is_refused():
    w = torch.randn(16, 4, 3, 3)
    w[3, 1, 0, 0] = 0.0
    with pytest.raises(ValueError, match="csp:8"):
        simulate("csph", w, relu_input((4, 5, 5)), chunk=8)


def test_register_bins_move_the_bins_words_from_sram_to_register_files():
    import pytest
    import torch

    from sparsegrain import pattern
    from sparsegrain.hardware import simulate

    g = torch.Generator().manual_seed(0)
    w = torch.randn(64, 32, generator=g)
    w = w * pattern("csp:32").mask(w, 0.7)
    x = torch.relu(torch.randn(8, 32, generator=g))
    sram, rf = (simulate("csph", w, x, bins=kind) for kind in ("sram", "rf"))
    moved = sram.extras["useful_macs"] * 32 / 32  # one 32-bit partial sum per MAC, each way
    assert rf.actions["sram_read"] == pytest.approx(sram.actions["sram_read"] - moved)
    assert rf.actions["rf_write"] == pytest.approx(sram.actions["rf_write"] + moved)
    assert rf.storage["accumulation_bins"].kind == "rf" and rf.cycles == sram.cycles
    with pytest.raises(ValueError, match="bins must be one of sram, rf"):
        simulate("csph", w, x, bins="flops")
