import numpy as np
import pytest
import torch
from hw_models import gs_mask, relu_input, sparse_conv

from sparsegrain import pattern
from sparsegrain.hardware import simulate
from sparsegrain.hardware.gs import GSEngine


@pytest.mark.parametrize("layout", ["auto", "gs", "unstructured", "block_bx1", "block_1xb", "dense"])
def test_outputs_match_torch(layout):
    w = sparse_conv(16, 8)
    if layout == "gs":  # the gs layout runs the GS format's packs: a gs:B:E mask
        w = torch.randn(16, 8, 3, 3)
        w = w * pattern("gs:8:1").mask(w, 0.7)
    x = relu_input((8, 9, 9))
    r = simulate("gs", w, x, layout=layout, stride=2, padding=1)
    ref = torch.conv2d(x[None].double(), w.double(), stride=2, padding=1)[0].numpy()
    np.testing.assert_allclose(r.outputs, ref, atol=1e-9)


def test_a_forced_gs_layout_declines_a_mask_the_gs_format_cannot_pack():
    with pytest.raises(ValueError, match="gs:8:1 masks only"):
        simulate("gs", sparse_conv(16, 8), relu_input((8, 9, 9)), layout="gs")


def _reference_in_order(mask: np.ndarray, lanes: int) -> tuple[int, int]:
    """Plain loops: packs and extra gather rounds of vertical CSR packs."""
    packs = extra = 0
    for g0 in range(0, mask.shape[0], lanes):
        rows = [np.nonzero(mask[r])[0] for r in range(g0, min(g0 + lanes, mask.shape[0]))]
        for t in range(max(len(r) for r in rows)):
            banks = [int(r[t]) % lanes for r in rows if t < len(r)]
            packs += 1
            extra += max(banks.count(b) for b in set(banks)) - 1
    return packs, extra


def test_unstructured_packs_equal_plain_reference():
    w = torch.randn(37, 50) * (torch.rand(37, 50) < 0.2)
    r = simulate("gs", w, None, layout="unstructured")
    packs, extra = _reference_in_order((w != 0).numpy(), 8)
    assert r.extras["packs"] == packs and r.extras["bank_conflicts"] == extra


def test_gs_mask_runs_conflict_free_and_balanced():
    m = gs_mask(32, 64, 8, packs=5)
    assert pattern("gs:8:1").is_valid(m)
    w = torch.randn(32, 64) * m
    gs = simulate("gs", w, None)
    assert gs.extras["layout"] == "gs"
    assert gs.extras["bank_conflicts"] == 0
    assert gs.extras["lane_utilization"] == 1.0
    assert gs.extras["packs"] == 4 * 5
    # the same mask laid out in CSR order pays for bank conflicts
    un = simulate("gs", w, None, layout="unstructured")
    assert un.cycles >= gs.cycles


def test_horizontal_packs_and_reduction():
    m = gs_mask(8, 64, 8, packs=8)  # every row holds 8 entries, one per bank
    w = torch.randn(8, 64) * m
    x = torch.rand(64)
    r = simulate("gs", w, x, e=8, layout="gs")
    assert r.extras["packs"] == 8 and r.extras["bank_conflicts"] == 0
    assert r.extras["lane_utilization"] == 1.0
    np.testing.assert_allclose(r.outputs, (w.double() @ x.double()).numpy(), atol=1e-9)


def test_dense_and_block_detected():
    w = torch.randn(16, 24)
    assert GSEngine().pick_layout(np.ones((16, 24), bool)) == "dense"
    bx1 = np.repeat(np.random.default_rng(0).random((2, 24)) < 0.3, 8, axis=0)
    assert GSEngine().pick_layout(bx1) == "block_bx1"
    r = simulate("gs", w * torch.from_numpy(bx1), None)
    assert r.extras["gathers"] == 0 and r.extras["lane_utilization"] == 1.0


def test_bad_parameters():
    with pytest.raises(ValueError, match="e dividing lanes"):
        simulate("gs", torch.randn(8, 8), None, e=3)
    with pytest.raises(ValueError, match="layout"):
        simulate("gs", torch.randn(8, 8), None, layout="diagonal")
    with pytest.raises(ValueError, match="scratchpad"):
        simulate("gs", torch.randn(8, 64), None, spm_elems=32)


@pytest.mark.parametrize("spec,e", [("gs:8:1", 1), ("gs:8:2", 2), ("gs:8:8", 8)])
def test_library_gs_masks_run_conflict_free_with_full_lanes(spec, e):
    from sparsegrain import pattern

    w = torch.randn(64, 32, 3, 3)
    m = pattern(spec).mask(w, 0.9)
    r = simulate("gs", w * m, relu_input((32, 6, 6)), e=e, mask=m, padding=1)
    assert r.extras["layout"] == "gs"
    assert r.extras["bank_conflicts"] == 0 and r.extras["lane_utilization"] == 1.0
