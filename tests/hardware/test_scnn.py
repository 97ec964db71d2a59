import numpy as np
import pytest
import torch
from hw_models import relu_input, sparse_conv

from sparsegrain import pattern
from sparsegrain.hardware import simulate


@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 1), (1, 0), (3, 2)])
def test_conv_outputs_match_torch(stride, padding):
    w = sparse_conv(10, 5, density=0.4)
    x = relu_input((2, 5, 13, 11))
    r = simulate("scnn", w, x, stride=stride, padding=padding)
    ref = torch.conv2d(x.double(), w.double(), stride=stride, padding=padding).numpy()
    np.testing.assert_allclose(r.outputs, ref, atol=1e-9)


def test_fc_outputs_match_torch():
    w = torch.randn(30, 40) * (torch.rand(30, 40) < 0.3)
    x = relu_input((40,))
    r = simulate("scnn", w, x)
    np.testing.assert_allclose(r.outputs, (w.double() @ x.double()).numpy(), atol=1e-9)


def _plain_refs(w: torch.Tensor, x: torch.Tensor, grid: int, f: int, i: int,
                held: str) -> tuple[int, int, int]:
    """Plain loops for a 1x1 conv in one output-channel group: weight reads, activation reads
    and products, with the ``held`` operand read once and the other once per vector of it."""
    wts = act = prod = 0
    h = x.shape[1]
    t = -(-h // grid)
    for c in range(w.shape[1]):
        nw = int((w[:, c] != 0).sum())
        for py in range(grid):
            for px in range(grid):
                na = int((x[c, py * t:(py + 1) * t, px * t:(px + 1) * t] != 0).sum())
                if na and nw:
                    wts += nw * (-(-na // i) if held == "input" else 1)
                    act += na * (-(-nw // f) if held == "weight" else 1)
                    prod += nw * na
    return wts, act, prod


@pytest.mark.parametrize("held", ["input", "weight"])
def test_reference_counts_equal_plain_loops(held: str):
    w = sparse_conv(6, 4, k=1, density=0.5)
    x = relu_input((4, 8, 8))
    r = simulate("scnn", w, x, pe_rows=2, pe_cols=2, i=3, stationary=held)
    wts, act, prod = _plain_refs(w, x, 2, 4, 3, held)
    assert r.extras["refs_weight_values"] == wts and r.extras["refs_activation_values"] == act
    assert r.extras["products"] == prod
    # input stationary (SCNN): the weights are what is read again, activations once
    if held == "input":
        assert act == int((x != 0).sum()) < wts


def test_coarse_masks_need_fewer_references():
    w = torch.randn(32, 32, 3, 3)
    x = relu_input((32, 16, 16))
    refs = {}
    for p in ("unstructured", "vector", "kernel"):
        r = simulate("scnn", w * pattern(p).mask(w, 0.7), x, padding=1)
        refs[p] = r.extras
    assert refs["vector"]["refs_weight_indices"] < refs["unstructured"]["refs_weight_indices"]
    assert refs["kernel"]["refs_weight_indices"] < refs["vector"]["refs_weight_indices"]
    assert refs["vector"]["refs_accumulator_rmw"] < refs["unstructured"]["refs_accumulator_rmw"]


def test_merge_off_counts_every_valid_product():
    w = sparse_conv(8, 4, density=0.5)
    r = simulate("scnn", w, relu_input((4, 9, 9)), padding=1, merge=False)
    assert r.extras["refs_accumulator_rmw"] == r.extras["useful_products"]


def test_bad_index_group():
    with pytest.raises(ValueError, match="index_group"):
        simulate("scnn", torch.randn(4, 4), None, index_group="row")


def _distinct_outputs_per_kernel(w: torch.Tensor, x: torch.Tensor, grid: int, pad: int) -> int:
    """Plain loops, stride 1: per PE tile, channel and kept kernel, the outputs it touches."""
    n_k, n_c, kh, kw = w.shape
    h, wd = x.shape[1:]
    ho, wo = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
    t = -(-h // grid)
    total = 0
    for py in range(grid):
        for px in range(grid):
            for c in range(n_c):
                acts = [(y, z) for y in range(py * t, min(h, (py + 1) * t))
                        for z in range(px * t, min(wd, (px + 1) * t)) if x[c, y, z] != 0]
                for k in range(n_k):
                    outs = {(y + pad - r, z + pad - s) for y, z in acts for r in range(kh)
                            for s in range(kw) if w[k, c, r, s] != 0}
                    total += sum(0 <= oy < ho and 0 <= ox < wo for oy, ox in outs)
    return total


def test_reduced_groups_update_each_output_once_per_kernel():
    w = torch.randn(6, 4, 3, 3)
    w = w * pattern("kernel").mask(w, 0.5)
    x = relu_input((4, 10, 10))
    plain = simulate("scnn", w, x, padding=1, pe_rows=2, pe_cols=2)
    reduced = simulate("scnn", w, x, padding=1, pe_rows=2, pe_cols=2, reduce_groups=True)
    np.testing.assert_allclose(reduced.outputs, plain.outputs)
    assert reduced.extras["refs_accumulator_rmw"] == _distinct_outputs_per_kernel(w, x, 2, 1)
    assert reduced.extras["refs_accumulator_rmw"] < plain.extras["refs_accumulator_rmw"]
    assert reduced.extras["refs_weight_values"] == plain.extras["refs_weight_values"]


def test_reduction_leaves_unstructured_masks_as_they_are():
    w = sparse_conv(8, 4, density=0.4)
    x = relu_input((4, 9, 9))
    a = simulate("scnn", w, x, padding=1)
    b = simulate("scnn", w, x, padding=1, reduce_groups=True)
    assert a.extras == b.extras and a.cycles == b.cycles


def _plain_halos(w: torch.Tensor, x: torch.Tensor, grid: int, pad: int) -> int:
    """Plain loops: per PE, the distinct outputs outside its own output tile its products reach
    (one output-channel group, stride 1)."""
    n_k, n_c, kr, ks = w.shape
    h, wd = x.shape[1:]
    ho, wo = h + 2 * pad - kr + 1, wd + 2 * pad - ks + 1
    t, to = -(-h // grid), -(-ho // grid)
    total = 0
    for py in range(grid):
        for px in range(grid):
            sent = set()
            for c in range(n_c):
                for y in range(py * t, min(h, (py + 1) * t)):
                    for xx in range(px * t, min(wd, (px + 1) * t)):
                        if x[c, y, xx] == 0:
                            continue
                        for k, r, s in zip(*np.nonzero(w[:, c].numpy())):
                            oy, ox = y + pad - r, xx + pad - s
                            inside = 0 <= oy < ho and 0 <= ox < wo
                            own = py * to <= oy < (py + 1) * to and px * to <= ox < (px + 1) * to
                            if inside and not own:
                                sent.add((k, oy, ox))
            total += len(sent)
    return total


def test_halo_partial_sums_equal_plain_loops_and_cost_energy():
    w = sparse_conv(3, 2, k=3, density=0.6)
    x = relu_input((2, 8, 8))
    r = simulate("scnn", w, x, pe_rows=2, pe_cols=2, padding=1)
    assert r.extras["refs_halo_exchanges"] == _plain_halos(w, x, 2, 1) > 0
    # a 1x1 kernel reaches no neighbour: no halo
    one = simulate("scnn", sparse_conv(3, 2, k=1, density=0.6), x, pe_rows=2, pe_cols=2)
    assert one.extras["refs_halo_exchanges"] == 0


def test_the_dense_machine_multiplies_every_pair_and_stores_no_indices():
    w = sparse_conv(6, 4, k=3, density=0.4)
    x = relu_input((4, 8, 8))
    dense = simulate("scnn", w, x, pe_rows=2, pe_cols=2, padding=1, dense=True)
    sparse = simulate("scnn", w, x, pe_rows=2, pe_cols=2, padding=1)
    np.testing.assert_allclose(dense.outputs, sparse.outputs, atol=1e-9)
    assert dense.extras["products"] == (6 * 4 * 9) * (8 * 8)  # each weight x its channel's 64
    assert dense.extras["refs_weight_indices"] == dense.extras["refs_activation_indices"] == 0
    assert dense.cycles > sparse.cycles and dense.energy_pj > sparse.energy_pj
