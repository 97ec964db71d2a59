import pytest
import torch

import sparsegrain as sg


def test_values_go_in_chunk_order_with_one_length_per_input():
    # outputs 0..4 (rows), inputs 0..2 (columns), chunks of 2 outputs: {0,1}, {2,3}, {4}
    w = torch.arange(1.0, 16.0).reshape(5, 3)
    mask = torch.zeros(5, 3, dtype=torch.bool)
    mask[:4, 0] = True  # input 0: 2 chunks
    mask[:, 2] = True  # input 2: all 3 chunks (the last one narrow)
    enc = sg.encode(w, "csp", c=2, mask=mask)
    assert enc.lengths.tolist() == [2, 0, 3]
    assert enc.values.tolist() == [[1, 4], [3, 6], [7, 10], [9, 12], [15, 0]]
    assert enc.chunk_ptr().tolist() == [0, 2, 4, 5]
    r = enc.storage()
    assert r.nnz == 9 and r.padding_entries == 1
    assert r.bits == {"values": 9 * 16, "metadata": 3 * 2, "padding": 16}
    assert torch.equal(enc.decode(), w * mask)


@pytest.mark.parametrize("col,why", [(0, "chunk 0 is partly kept"), (1, "chunk 1 is kept after")])
def test_a_non_prefix_mask_names_the_input_and_the_chunk(col, why):
    mask = torch.zeros(4, 2, dtype=torch.bool)
    mask[0, 0] = True  # input 0 keeps half of chunk 0
    mask[:, 1] = True
    if col == 1:
        mask[0, 0] = False
        mask[:2, 1] = False  # input 1 keeps chunk 1 without chunk 0
    with pytest.raises(ValueError, match=f"input row {col} .*{why}"):
        sg.encode(torch.ones(4, 2), "csp", c=2, mask=mask)
