"""4-bit codes as stored values: packed two a byte, decoded exactly, refused when they cannot be."""

from __future__ import annotations

import numpy as np
import pytest

from sparsegrain.kernels.codes import BOOK, Codes
from sparsegrain.kernels.layout import float_values, stored_values


@pytest.mark.parametrize("shape", [(0,), (1,), (7,), (3, 5), (4, 2, 3)])
def test_codes_decode_to_the_values_in_their_shape(shape):
    rng = np.random.default_rng(len(shape))
    book = rng.standard_normal(BOOK).astype(np.float32)
    values = book[rng.integers(0, BOOK, shape)]
    codes = stored_values(values, 4)
    assert isinstance(codes, Codes) and codes.shape == shape and codes.size == values.size
    assert np.array_equal(float_values(codes), values) and codes.decode().dtype == np.float32
    assert codes.nbytes == -(-values.size // 2) + 4 * BOOK  # half a byte a value, the table
    assert (codes.ndim, len(codes) if shape else 0) == (len(shape), shape[0] if shape else 0)


def test_two_codes_share_a_byte_low_nibble_first():
    codes = Codes(np.array([0.5, -1.0, 2.0], np.float32))
    assert list(codes.book[:3]) == [-1.0, 0.5, 2.0]  # the distinct values, ascending
    assert codes.packed[0] == 1 | 0 << 4 and codes.packed[1] == 2


@pytest.mark.parametrize("values, what", [(np.arange(17, dtype=np.float32), "got 17 distinct"),
                                          (np.array([1.0, np.inf], np.float32), "not finite")])
def test_values_a_codebook_cannot_hold_are_refused(values, what):
    with pytest.raises(ValueError, match=f"at most 16 distinct finite.*{what}.*'codebook'"):
        stored_values(values, 4)
