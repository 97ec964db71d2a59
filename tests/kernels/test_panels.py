"""64-column tiles of CSR, N:M and GS weights run on column panels (kernels/panels.py)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from kernel_cases import CASES, SharedValues

from sparsegrain.kernels.panels import GROUP, PANEL, TASK


@st.composite
def wide(draw: st.DrawFn) -> tuple[np.random.Generator, int, int]:
    """Weights of several row tasks and several column panels."""
    seed = draw(st.integers(0, 2**32 - 1))
    return (np.random.default_rng(seed), draw(st.integers(1, 3 * TASK + 5)),
            draw(st.integers(PANEL + 1, 3 * PANEL + 7)))


def plan_matrix(kernel) -> np.ndarray:
    """The dense weight the plan holds, rebuilt step by step with a plain loop."""
    plan = kernel.panels
    rows, cols = kernel.shape
    values = plan.values
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
                assert panel * PANEL <= c < (panel + 1) * PANEL
                if v:
                    w[r, c] += v
    return w


@pytest.mark.parametrize("fmt", ["csr", "nm", "gs"])
@settings(max_examples=12, deadline=None)
@given(case=wide(), bits=st.sampled_from([32, 16]))
def test_plan_holds_every_entry_once(fmt, case, bits):
    rng, rows, cols = case
    kernel, w = CASES[fmt](rng, rows, cols, value_bits=bits)
    plan = kernel.panels
    assert plan is not None
    per_task = plan.rows.reshape(-1, TASK)
    assert all(sorted(p) == list(range(TASK)) for p in per_task)  # a permutation per panel
    rows_, cols_, values = kernel.nonzeros()  # the stored entries (GS may repeat a position)
    held = np.zeros(kernel.shape)
    np.add.at(held, (rows_, cols_), values.astype(np.float64))
    np.testing.assert_array_equal(plan_matrix(kernel), held)
    if bits == 32:
        np.testing.assert_allclose(held, w, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("fmt", ["csr", "nm", "gs"])
@settings(max_examples=12, deadline=None)
@given(case=wide(), batch=st.sampled_from([64, 100, 128]), codes=st.booleans())
def test_panel_products_equal_dense(fmt, case, batch, codes):
    rng, rows, cols = case
    kernel, w = (CASES[fmt](SharedValues(rng), rows, cols, value_bits=4) if codes
                 else CASES[fmt](rng, rows, cols))
    assert kernel.panels is not None
    x = torch.from_numpy(rng.standard_normal((kernel.shape[1], batch)).astype(np.float32))
    want = torch.from_numpy(w).double() @ x.double()
    torch.testing.assert_close((kernel @ x).double(), want, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(kernel.linear(x.T).double(), want.T, rtol=1e-4, atol=1e-4)


def test_sorted_rows_pad_little():
    """Rows of like run length share a group: at 90 % the padding stays a few percent."""
    from sparsegrain.kernels.bench import masked_weight
    from sparsegrain.kernels.sparsify import kernel_for

    kernel = kernel_for(masked_weight((512, 1024), "unstructured", 0.9), "csr")
    slots = (kernel.panels.ptr[-1]) * GROUP
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
    assert kernel.panels is None
    x = torch.from_numpy(rng.standard_normal((300, 64)).astype(np.float32))
    torch.testing.assert_close((kernel @ x).double(), torch.from_numpy(w).double() @ x.double(),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fmt", ["bcsr", "csp"])
def test_formats_that_reuse_x_rows_have_no_plan(fmt):
    kernel, _ = CASES[fmt](np.random.default_rng(0), 40, 40)
    assert kernel.panels is None
