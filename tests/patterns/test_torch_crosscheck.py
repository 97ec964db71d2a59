"""Masks equal those of torch's own pruning utilities on tie-free inputs."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from pattern_strategies import shapes
from torch.ao.pruning import WeightNormSparsifier
from torch.nn.utils import prune

import sparsegrain as sg


def distinct(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """A weight whose magnitudes and group norms are all different (almost surely)."""
    g = torch.Generator().manual_seed(seed)
    mags = 0.1 + torch.rand(shape, generator=g, dtype=torch.float64)
    signs = torch.randint(0, 2, shape, generator=g) * 2 - 1
    return (mags * signs).float()


def torch_mask(method, w: torch.Tensor, **kw) -> torch.Tensor:
    module = torch.nn.Module()
    module.weight = torch.nn.Parameter(w.clone())
    method(module, "weight", **kw)
    return module.weight_mask.bool()


@given(shape=shapes(), seed=st.integers(0, 2**31 - 1), sparsity=st.floats(0.0, 0.99))
def test_unstructured_equals_l1_unstructured(shape, seed, sparsity):
    w = distinct(shape, seed)
    expected = torch_mask(prune.l1_unstructured, w, amount=sparsity)
    assert torch.equal(sg.pattern("unstructured").mask(w, sparsity), expected)


@pytest.mark.parametrize("n", [1, 2])
@given(shape=shapes(), seed=st.integers(0, 2**31 - 1), sparsity=st.floats(0.0, 0.99))
def test_filter_equals_ln_structured(n, shape, seed, sparsity):
    w = distinct(shape, seed)
    expected = torch_mask(prune.ln_structured, w, amount=sparsity, n=n, dim=0)
    assert torch.equal(sg.pattern(f"filter:norm=l{n}").mask(w, sparsity), expected)


@given(rows=st.integers(1, 24), groups=st.integers(1, 8), seed=st.integers(0, 2**31 - 1))
def test_nm_2_4_equals_weight_norm_sparsifier(rows, groups, seed):
    w = distinct((rows, 4 * groups), seed)
    model = torch.nn.Sequential(torch.nn.Linear(4 * groups, rows, bias=False))
    model[0].weight.data.copy_(w)
    sparsifier = WeightNormSparsifier(
        sparsity_level=1.0, sparse_block_shape=(1, 4), zeros_per_block=2
    )
    sparsifier.prepare(model, [{"tensor_fqn": "0.weight"}])
    sparsifier.step()
    expected = model[0].parametrizations.weight[0].mask.bool()
    assert torch.equal(sg.pattern("nm:2:4").mask(w, 0.5), expected)
