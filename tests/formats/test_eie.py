import filecmp

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import sparsegrain as sg
from sparsegrain.formats import eie

from .helpers import relative_reference


def plain_decode(path):
    """Dense fc8 from the reference files by the README's rule, entry by entry."""
    book = np.fromfile(path / "arithm.dat", dtype="<f4")
    rows = {}
    for k in range(64):
        ptr = np.fromfile(path / "ptr" / f"ptr{k}.dat", dtype="<u4")
        spm = np.fromfile(path / "spm" / f"spm{k}.dat", dtype="<u4").reshape(-1, 2).tolist()
        for j in range(len(ptr) - 1):
            local = -1
            for code, zeros in spm[ptr[j] : ptr[j + 1]]:
                local += zeros + 1
                if code:
                    rows[(local * 64 + k, j)] = book[code]
    w = np.zeros((1000, len(ptr) - 1), dtype=np.float32)
    for (i, j), v in rows.items():
        w[i, j] = v
    return w


@pytest.mark.slow
def test_fc8_decodes_and_multiplies_like_a_dense_layer(fc8_dir):
    enc = eie.read_reference(fc8_dir)
    assert enc.shape == (1000, 4097) and enc.n_pe == 64 and enc.bias_column
    w = enc.decode()
    dense = plain_decode(fc8_dir)
    assert np.array_equal(w.numpy(), dense)
    act = np.fromfile(fc8_dir / "act.dat", dtype="<f4")
    x = torch.from_numpy(np.append(act, np.float32(1.0)))
    y = w @ x
    ref = dense.astype(np.float64) @ x.numpy().astype(np.float64)
    assert np.abs(y.numpy() - ref).max() < 1e-5
    assert enc.nnz == int((dense != 0).sum()) and enc.fillers == 0


def test_fc8_reencodes_byte_for_byte(fc8_dir, tmp_path):
    enc = eie.read_reference(fc8_dir)
    again = sg.encode(enc.decode(), "eie", n_pe=64, codebook=enc.codebook)
    eie.write_reference(again, tmp_path)
    for k in range(64):
        for kind in ("ptr", "spm"):
            name = f"{kind}/{kind}{k}.dat"
            assert filecmp.cmp(tmp_path / name, fc8_dir / name, shallow=False), name
    assert filecmp.cmp(tmp_path / "arithm.dat", fc8_dir / "arithm.dat", shallow=False)


def test_write_reference_refuses_to_overwrite(fc8_dir, tmp_path):
    enc = sg.encode(torch.eye(4), "eie", n_pe=2)
    eie.write_reference(enc, tmp_path)
    with pytest.raises(ValueError, match="overwrite"):
        eie.write_reference(enc, tmp_path)
    eie.write_reference(enc, tmp_path, overwrite=True)
    assert torch.equal(eie.read_reference(tmp_path, bias_column=False).decode(), enc.decode())


@pytest.mark.slow
@pytest.mark.parametrize("n_pe", [1, 3, 64, 100, 256])
def test_fc8_reencodes_for_other_pe_counts(fc8_dir, n_pe):
    enc = eie.read_reference(fc8_dir)
    w = enc.decode()
    again = sg.encode(w, "eie", n_pe=n_pe, codebook=enc.codebook, pointer_bits=32)
    assert torch.equal(again.decode(), w)
    assert again.nnz == enc.nnz and len(again.ptr) == n_pe
    # fillers by the rule: floor(gap / 16) per entry, gaps counted in each PE's own rows
    keep = (w != 0).numpy()
    fillers = 0
    for k in range(n_pe):
        sub = np.vstack([np.ones((1, keep.shape[1]), bool), keep[k::n_pe]])  # row 0: "row -1"
        j, r = np.nonzero(sub.T)
        same = np.diff(j) == 0
        fillers += int(((np.diff(r)[same] - 1) // 16).sum())
    assert again.fillers == fillers


@pytest.mark.parametrize("fmt", ["eie", "rcsc"])
def test_a_run_of_18_zeros_gives_one_filler_then_count_2(fmt):
    w = torch.zeros(20, 1)
    w[18, 0] = 0.5
    enc = sg.encode(w, fmt, n_pe=1, codebook=[0.0, 0.5, 1.0, -1.0], code_bits=2) if fmt == "eie" \
        else sg.encode(w, fmt, n_pe=1)
    assert enc.zeros_before[0].tolist() == [15, 2]
    payload = enc.codes[0].tolist() if fmt == "eie" else enc.values[0].tolist()
    assert payload[0] == 0 and payload[1] != 0
    assert enc.fillers == 1 and enc.nnz == 1 and enc.ptr[0].tolist() == [0, 2]
    assert torch.equal(enc.decode(), w)


@given(
    rows=st.integers(1, 40), cols=st.integers(1, 6), n_pe=st.integers(1, 9),
    bits=st.integers(1, 4), density=st.floats(0.0, 1.0), seed=st.integers(0, 2**31),
)
def test_layout_equals_the_plain_rule(rows, cols, n_pe, bits, density, seed):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(rows, cols, generator=g) * (torch.rand(rows, cols, generator=g) < density)
    enc = sg.encode(w, "rcsc", n_pe=n_pe, index_bits=bits)
    ref = relative_reference(w.numpy(), (w != 0).numpy(), n_pe, bits)
    for k, (ptr, entries) in enumerate(ref):
        assert enc.ptr[k].tolist() == ptr.tolist()
        assert enc.zeros_before[k].tolist() == [z for _, z in entries]
        assert enc.values[k].tolist() == pytest.approx([v for v, _ in entries], abs=0)
    assert torch.equal(enc.decode(), w)


def test_too_many_entries_for_16_bit_pointers_is_a_clear_error():
    w = torch.ones(300, 300)
    with pytest.raises(ValueError, match="pointer_bits"):
        sg.encode(w, "eie", n_pe=1)


def test_read_reference_rejects_a_folder_without_data(tmp_path):
    with pytest.raises(ValueError, match="no EIE reference data"):
        eie.read_reference(tmp_path)
