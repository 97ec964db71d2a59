import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans

import sparsegrain as sg
from sparsegrain.formats.codebook import kmeans_codebook, quantize


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kmeans_equals_sklearn_lloyd_from_the_same_linear_init(seed):
    rng = np.random.default_rng(seed)
    v = np.concatenate([rng.normal(0, 0.05, 3000), rng.normal(0.2, 0.02, 500)])
    book = kmeans_codebook(v, bits=4)
    init = np.linspace(v.min(), v.max(), 15).reshape(-1, 1)
    ref = KMeans(15, init=init, n_init=1, algorithm="lloyd", tol=0, max_iter=300).fit(v.reshape(-1, 1))
    assert book[0] == 0.0
    assert np.allclose(np.sort(book[1:]), np.sort(ref.cluster_centers_.ravel()), atol=1e-6)


def test_quantize_maps_zero_to_code_0_and_others_to_the_nearest_nonzero_centroid():
    book = np.array([0.0, -1.0, 0.5, 2.0], dtype=np.float32)
    codes = quantize(np.array([0.0, 0.1, -0.6, 1.3, 5.0]), book)
    assert codes.tolist() == [0, 2, 1, 3, 3]


def test_a_fixed_codebook_is_used_as_given_and_checked():
    w = torch.tensor([[0.0, 0.9, -1.2], [2.2, 0.0, 0.4]])
    enc = sg.encode(w, "codebook", code_bits=2, codebook=[0.0, -1.0, 0.5, 2.0])
    assert enc.decode().tolist() == [[0.0, 0.5, -1.0], [2.0, 0.0, 0.5]]
    assert enc.storage().bits["codebook"] == 4 * 16 and enc.storage().bits["codes"] == 4 * 2
    with pytest.raises(ValueError, match="entry 0 must be 0.0"):
        sg.encode(w, "codebook", code_bits=2, codebook=[1.0, -1.0, 0.5, 2.0])
    with pytest.raises(ValueError, match="3 entries; 2-bit codes need 4"):
        sg.encode(w, "codebook", code_bits=2, codebook=[0.0, 1.0, 2.0])


@pytest.mark.parametrize("index", ["coo", "bitmap", "rcsc"])
def test_codes_compose_with_other_index_formats(index):
    w = torch.randn(12, 20) * (torch.rand(12, 20) < 0.3)
    enc = sg.encode(w, "codebook", index=index)
    plain = sg.encode(w, "codebook")
    assert torch.equal(enc.decode(), plain.decode())
    assert enc.inner.fmt == index and "codes" in enc.storage().bits


def test_the_index_format_takes_its_own_parameters():
    w = torch.randn(8, 16)
    w = w * sg.pattern("nm:2:4").mask(w, 0.5)
    enc = sg.encode(w, "codebook", index="nm", index_params={"n": 2, "m": 4})
    assert (enc.inner.n, enc.inner.m) == (2, 4) and enc.inner.value_bits == 4
    assert torch.equal(enc.decode() != 0, w != 0)
    with pytest.raises(ValueError, match="index format nm takes no parameter value_bits in "
                                         "index_params; it takes: n, m"):
        sg.encode(w, "codebook", index="nm", index_params={"value_bits": 8})
    with pytest.raises(ValueError, match="index_params must be a dict"):
        sg.encode(w, "codebook", index="nm", index_params="n=2")
