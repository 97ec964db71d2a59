import numpy as np
import torch

import sparsegrain as sg


def test_bcsr_stores_one_index_per_kept_block():
    w = torch.zeros(6, 8)
    w[0, 1] = 1.0
    w[5, 7] = 2.0  # in the padded edge block row
    enc = sg.encode(w, "bcsr", block_rows=4, block_cols=4)
    assert enc.indptr.tolist() == [0, 1, 2] and enc.indices.tolist() == [0, 1]
    assert enc.blocks.shape == (2, 4, 4) and enc.blocks[1, 1, 3] == 2.0
    r = enc.storage()
    assert r.bits == {"values": 2 * 16, "indices": 2 * 1, "pointers": 3 * 32, "padding": 30 * 16}
    assert torch.equal(enc.decode(), w)


def test_bitmap_chunk_pointers_count_values_before_each_chunk():
    w = torch.zeros(2, 5)
    w[0, 0], w[0, 4], w[1, 3] = 1.0, 2.0, 3.0
    enc = sg.encode(w, "bitmap", chunk=4)
    assert enc.chunk_ptr.tolist() == [0, 1, 2, 3]
    assert np.array_equal(enc.kept(), (w != 0).numpy())
    assert enc.storage().bits == {"values": 3 * 16, "metadata": 10, "pointers": 3 * 32}
    assert sg.encode(w, "bitmap", chunk=0).storage().bits["pointers"] == 0


def test_rle_fillers_follow_the_run_rule():
    w = torch.zeros(3, 10)
    w[2, 3] = 5.0  # 23 zeros before it in the row-major stream
    enc = sg.encode(w, "rle")
    assert enc.zeros_before.tolist() == [15, 7] and enc.values.tolist() == [0.0, 5.0]
    assert enc.storage().bits == {"values": 16, "indices": 4, "padding": 20}
    assert torch.equal(enc.decode(), w)
