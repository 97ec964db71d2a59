"""Sparsified layers refuse what the dense layers refuse (integer inputs) and say they are
inference-only when a gradient is asked of them."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import sparsegrain as sg


@pytest.fixture(scope="module")
def sparse_model() -> nn.Sequential:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 48), nn.ReLU(), nn.Conv2d(3, 8, 3))[:1]
    with torch.no_grad():
        model[0].weight[torch.rand_like(model[0].weight) < 0.9] = 0
    dense = model[0].weight.detach().clone(), model[0].bias.detach().clone()
    sparse = sg.sparsify(model, format="csr", keep_dense_if_slower=False, cache=False)
    sparse.dense = dense
    return sparse


def test_integer_inputs_are_refused_like_the_dense_layer(sparse_model):
    assert type(sparse_model[0]).__name__ == "SparseLinear"
    x = torch.randint(0, 5, (4, 64))
    with pytest.raises(RuntimeError):
        nn.Linear(64, 48)(x)
    with pytest.raises(TypeError, match="takes a floating-point tensor, got torch.int64"):
        sparse_model(x)


def test_a_backward_through_a_sparse_layer_says_inference_only(sparse_model):
    x = torch.randn(4, 64, requires_grad=True)
    y = sparse_model(x)
    w, b = sparse_model.dense
    assert torch.allclose(y, x @ w.T + b, atol=1e-5)
    with pytest.raises(RuntimeError, match="inference-only"):
        y.sum().backward()
    with torch.no_grad():
        assert not sparse_model(x).requires_grad


def test_a_format_asked_for_by_name_is_used_even_where_auto_would_skip_it():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 4))
    with torch.no_grad():
        model[0].weight[torch.rand(4, 4) < 0.5] = 0
    x = torch.randn(3, 4)
    want = model(x)
    sg.sparsify(model, format="bcsr", keep_dense_if_slower=False, cache=False)
    assert model[0].kernel.fmt == "bcsr"
    assert torch.allclose(model(x), want, atol=1e-6)


def test_the_eager_call_and_the_operator_give_the_same_rows(sparse_model):
    w, b = sparse_model.dense
    for batch in (1, 3):
        x = torch.randn(batch, 64)
        with torch.no_grad():
            eager = sparse_model(x)
            traced = torch.ops.sparsegrain.linear(x, sparse_model[0].number) + b
        assert torch.equal(eager, traced)
        assert torch.allclose(eager, x @ w.T + b, atol=1e-5)
    assert sparse_model(torch.randn(2, 5, 64)).shape == (2, 5, 48)


def test_a_nan_row_that_meets_a_kept_weight_is_refused(sparse_model):
    w, _ = sparse_model.dense
    col = int(w.abs().sum(0).argmax())  # a column with kept weights
    x = torch.zeros(1, 64)
    x[0, col] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        sparse_model(x)
