import numpy as np
import pytest
import torch

from sparsegrain import pattern
from sparsegrain.hardware import simulate
from hw_models import relu_input, sparse_conv


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


def _plain_refs(w: torch.Tensor, x: torch.Tensor, grid: int, f: int, i: int) -> tuple[int, int]:
    """Plain loops for a 1x1 conv in one output-channel group: activation reads and products."""
    act = prod = 0
    h = x.shape[1]
    t = -(-h // grid)
    for c in range(w.shape[1]):
        nw = int((w[:, c] != 0).sum())
        for py in range(grid):
            for px in range(grid):
                na = int((x[c, py * t:(py + 1) * t, px * t:(px + 1) * t] != 0).sum())
                if na and nw:
                    act += -(-nw // f) * na
                    prod += nw * na
    return act, prod


def test_reference_counts_equal_plain_loops():
    w = sparse_conv(6, 4, k=1, density=0.5)
    x = relu_input((4, 8, 8))
    r = simulate("scnn", w, x, pe_rows=2, pe_cols=2)
    act, prod = _plain_refs(w, x, 2, 4, 4)
    assert r.extras["refs_activation_values"] == act
    assert r.extras["products"] == prod


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
