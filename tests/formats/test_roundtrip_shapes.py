"""Every registered format survives serialisation on every shape from 1 x 1 up: whatever
``encode`` writes, packed or not, ``from_bytes`` reads back to the same weight, whatever the
widths, PE counts or chunk lengths are next to the weight's size."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conformance.members import native
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from torch import nn

import sparsegrain as sg
from sparsegrain.deploy import sparsify
from sparsegrain.formats import FORMATS, Encoded, from_bytes
from sparsegrain.patterns import Pattern

#: values of the parameters formats take, defaults or not (a format is given those it takes)
OPTIONS: dict[str, list] = {
    "value_bits": [4, 8, 16, 32, 64], "dense_bits": [8, 32, 64], "n_pe": [1, 3, 64, 128],
    "chunk": [0, 1, 16, 128, 1024], "c": [1, 3, 8, 128], "b": [2, 4, 8], "e": [1, 2],
    "n": [1, 2], "m": [4, 8], "code_bits": [1, 4, 8], "run_bits": [1, 4, 8],
    "index_bits": [4, 8, 16, 32], "pointer_bits": [16, 32, 64], "row_bits": [8, 16, 32],
    "col_bits": [8, 16, 32], "block_rows": [1, 3, 4, 8], "block_cols": [1, 2, 4, 64],
    "scatter": [False, True], "bias_column": [False, True],
    "index": ["csr", "csc", "coo", "bitmap", "rcsc", "rle", "bcsr"],
}
CONV_SHAPES = [(1, 1, 1, 1), (3, 2, 3, 3), (8, 4, 3, 3), (16, 8, 1, 1), (4, 3, 5, 5), (2, 1, 1, 7)]
#: rows and columns a structured mask's shape grows to a multiple of: every native pattern's
#: tile divides it (block 4x4, N:M 2:4, GS 8:1, CSP 8)
GROW = 8
DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int8]


def fitted(p: Pattern, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """``shape`` if ``p`` tiles it, else a 2-D shape grown to multiples of :data:`GROW` if
    ``p`` tiles that, else None."""
    grown = tuple(-(-s // GROW) * GROW for s in shape) if len(shape) == 2 else shape
    for s in (shape, grown):
        try:
            p.check_shape(s)
            return s
        except ValueError:
            continue
    return None


def weight_and_mask(fmt: str, shape: tuple[int, ...], kind: str, density: float, seed: int,
                    dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """A weight of ``dtype``, a mask of ``kind`` (random at ``density``, none or all kept, or
    of the format's native pattern) and the parameters the format derives from that pattern
    (none for the other kinds)."""
    spec, params = native(FORMATS[fmt].for_pattern)
    if kind == "pattern":
        shape = fitted(spec, shape)
        assume(shape is not None)
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(shape, generator=g)
    w = (w * 40).round().clamp(-127, 127).to(dtype) if dtype == torch.int8 else w.to(dtype)
    if kind == "pattern":
        return w, spec.mask(w.float(), min(1.0 - density, 0.99)), params
    if kind == "random":
        return w, torch.rand(shape, generator=g) < density, {}
    return w, torch.full(shape, kind == "ones"), {}


def round_trip(enc: Encoded) -> None:
    """``enc`` read back from its packed and unpacked bytes: same type, weight and report."""
    for packed in (False, True):
        back = from_bytes(enc.to_bytes(packed=packed))
        assert type(back) is type(enc), packed
        got, want = back.decode(), enc.decode()
        assert got.dtype == want.dtype and torch.equal(got, want), packed
        assert back.storage() == enc.storage(), packed


@settings(max_examples=1000, deadline=None)
@given(
    fmt=st.sampled_from(list(FORMATS)),
    shape=st.one_of(st.tuples(st.integers(1, 40), st.integers(1, 40)),
                    st.sampled_from(CONV_SHAPES)),
    kind=st.sampled_from(["random", "zeros", "ones", "pattern"]),
    density=st.floats(0.0, 1.0), seed=st.integers(0, 2**16), dtype=st.sampled_from(DTYPES),
    options=st.fixed_dictionaries({}, optional={k: st.sampled_from(v) for k, v in OPTIONS.items()}),
)
@example(fmt="bitmap", shape=(7, 13), kind="random", density=0.5, seed=0, dtype=torch.float32,
         options={})
@example(fmt="csr", shape=(4, 4), kind="random", density=0.5, seed=0, dtype=torch.float32,
         options={"value_bits": 32})
@example(fmt="eie", shape=(4, 4), kind="ones", density=1.0, seed=0, dtype=torch.float32,
         options={"n_pe": 64})
@example(fmt="dense", shape=(1, 1), kind="zeros", density=0.0, seed=0, dtype=torch.float32,
         options={"value_bits": 32})
def test_every_format_round_trips_every_shape(fmt, shape, kind, density, seed, dtype, options):
    w, mask, params = weight_and_mask(fmt, shape, kind, density, seed, dtype)
    params = {**{k: v for k, v in options.items() if k in FORMATS[fmt].parameters()}, **params}
    try:
        enc = sg.encode(w, fmt, mask=mask, **params)
    except ValueError:
        assume(False)  # the format cannot hold this mask or shape with these parameters
    round_trip(enc)


@pytest.mark.parametrize("value_bits", [32, 16, 4])
def test_a_model_with_4x4_sparse_layers_saves_and_loads_back(tmp_path: Path, value_bits: int
                                                             ) -> None:
    def model(seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4)).eval()

    pruned = model(0)
    with torch.no_grad():
        for layer in (pruned[0], pruned[2]):
            layer.weight *= torch.rand(4, 4, generator=torch.Generator().manual_seed(1)) < 0.5
    sparse = sparsify(pruned, format="csr", keep_dense_if_slower=False, cache=False,
                      value_bits=value_bits)
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want = sparse(x)
        back = sg.load(sg.save(sparse, tmp_path / "small.safetensors"), model(7))
        assert torch.equal(back(x), want)
    assert [type(m).__name__ for m in back] == ["SparseLinear", "ReLU", "SparseLinear"]
