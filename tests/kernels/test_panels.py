"""Batch tiles of CSR, N:M and GS weights run on column panels (kernels/panels.py)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from kernel_cases import CASES, ONE_PACK_WIDTH, SharedValues

from sparsegrain.kernels.panels import GROUP, TASK, panel_width


@st.composite
def wide(draw: st.DrawFn) -> tuple[np.random.Generator, int, int]:
    """Weights of several row tasks and several column panels."""
    seed = draw(st.integers(0, 2**32 - 1))
    return (np.random.default_rng(seed), draw(st.integers(1, 3 * TASK + 5)),
            draw(st.integers(panel_width(64) + 1, 3 * panel_width(64) + 7)))


def plan_matrix(kernel, tile) -> np.ndarray:
    """The dense weight the plan holds, rebuilt step by step with a plain loop."""
    plan = kernel.panels(tile)
    rows, cols = kernel.shape
    values, width = plan.values, plan.width
    if kernel.value_bits == 16:  # float16 bits
        values = values.view(np.float16).astype(np.float32)
    groups = TASK // GROUP
    w = np.zeros((rows, cols), np.float64)
    for s in range(len(plan.ptr) - 1):
        task, panel = s // (groups * plan.panels), s // groups % plan.panels
        for k in range(plan.ptr[s], plan.ptr[s + 1]):
            for i in range(GROUP):
                r = task * TASK + plan.rows[s * GROUP + i]
                c, v = int(plan.cols[k * GROUP + i]), values[k * GROUP + i]
                assert panel * width <= c < (panel + 1) * width
                if v:
                    w[r, c] += v
    return w


@pytest.mark.parametrize("fmt", ["csr", "nm", "gs"])
@settings(max_examples=12, deadline=None)
@given(case=wide(), bits=st.sampled_from([32, 16]), tile=st.sampled_from([64, 16, 8]))
def test_plan_holds_every_entry_once(fmt, case, bits, tile):
    rng, rows, cols = case
    kernel, w = CASES[fmt](rng, rows, cols, value_bits=bits)
    plan = kernel.panels(tile)
    if tile not in kernel.panel_tiles:
        assert plan is None
        return
    assert plan.width == panel_width(tile) and plan.panels == -(-kernel.shape[1] // plan.width)
    per_task = plan.rows.reshape(-1, TASK)
    assert all(sorted(p) == list(range(TASK)) for p in per_task)  # a permutation per panel
    rows_, cols_, values = kernel.nonzeros()  # the stored entries (GS may repeat a position)
    held = np.zeros(kernel.shape)
    np.add.at(held, (rows_, cols_), values.astype(np.float64))
    np.testing.assert_array_equal(plan_matrix(kernel, tile), held)
    if bits == 32:
        np.testing.assert_allclose(held, w, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("fmt", ["csr", "nm", "gs"])
@settings(max_examples=12, deadline=None)
@given(case=wide(), batch=st.sampled_from([8, 16, 48, 64, 100, 128]), codes=st.booleans())
def test_panel_products_equal_dense(fmt, case, batch, codes):
    rng, rows, cols = case
    make = ONE_PACK_WIDTH.get(fmt, CASES[fmt])
    kernel, w = make(SharedValues(rng), rows, cols, value_bits=4) if codes else make(rng, rows, cols)
    x = torch.from_numpy(rng.standard_normal((kernel.shape[1], batch)).astype(np.float32))
    want = torch.from_numpy(w).double() @ x.double()
    torch.testing.assert_close((kernel @ x).double(), want, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(kernel.linear(x.T).double(), want.T, rtol=1e-4, atol=1e-4)
    assert kernel.panels(64) is not None and all(kernel.panels(t) is not None
                                                 for t in kernel.panel_tiles)


def test_sorted_rows_pad_little():
    """Rows of like run length share a group: at 90 % the padding stays a few percent."""
    from sparsegrain.benchmarking.bench import masked_weight
    from sparsegrain.kernels.build import kernel_for

    kernel = kernel_for(masked_weight((512, 1024), "unstructured", 0.9), "csr")
    for tile in (64, 16, 8):
        slots = kernel.panels(tile).ptr[-1] * GROUP
        assert kernel.stored_entries <= slots < 1.15 * kernel.stored_entries


def test_codes_without_room_for_zero_keep_the_row_traversal():
    """4-bit codes whose 16 entries are all nonzero cannot hold the padding: no plan, the
    product still right."""
    from sparsegrain.kernels.csr import CSRKernel

    rng = np.random.default_rng(3)
    book = np.arange(1, 17, dtype=np.float32)
    w = np.where(rng.random((70, 300)) < 0.3, book[rng.integers(0, 16, (70, 300))], 0)
    r, c = np.nonzero(w)
    kernel = CSRKernel(w.shape, np.concatenate([[0], np.cumsum((w != 0).sum(1))]), c, w[r, c], 4)
    assert kernel.panels(64) is None and kernel.panels(8) is None
    x = torch.from_numpy(rng.standard_normal((300, 64)).astype(np.float32))
    torch.testing.assert_close((kernel @ x).double(), torch.from_numpy(w).double() @ x.double(),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fmt", ["bcsr", "csp"])
def test_formats_that_reuse_x_rows_have_no_plan(fmt):
    kernel, _ = CASES[fmt](np.random.default_rng(0), 40, 40)
    assert all(kernel.panels(tile) is None for tile in (64, 16, 8))


@pytest.mark.parametrize("fmt", ["csr", "nm", "gs"])
@pytest.mark.parametrize("batch", [8, 16, 64])
def test_several_panels_of_a_narrow_tile(fmt, batch):
    """Narrow tiles take wide panels (1,024 columns at 8, 512 at 16): three or more of them
    here, and two row tasks."""
    rng = np.random.default_rng(11)
    kernel, w = CASES[fmt](rng, 130, 2 * panel_width(8) + 50)
    assert kernel.panels(batch if batch in kernel.panel_tiles else 64).panels >= 3
    x = torch.from_numpy(rng.standard_normal((kernel.shape[1], batch)).astype(np.float32))
    want = torch.from_numpy(w).double() @ x.double()
    torch.testing.assert_close((kernel @ x).double(), want, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(kernel.linear(x.T).double(), want.T, rtol=1e-4, atol=1e-4)
