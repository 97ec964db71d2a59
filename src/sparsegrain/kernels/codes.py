"""Stored values as 4-bit codes into a 16-entry codebook (weight sharing, as EIE runs it).

A weight whose kept values take at most 16 distinct values (a ``codebook`` encoding: k-means
centroids, Han et al. ICLR 2016) is stored as one 4-bit code per value, two to a byte, beside a
float32 table of the 16 values. A product reads half a byte per value instead of two or four;
the compiled steps (:func:`sparsegrain.kernels.intrinsics.value_at`, ``vgather_fma``) look each code up
as they read it, 16 at once from one register on AVX-512 (``vpermps``). :class:`Codes` stands in
for a values array: it has the values' ``shape``, in Python and in compiled code alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import (
    NativeValue,
    make_attribute_wrapper,
    models,
    register_model,
    typeof_impl,
    unbox,
)

#: entries of a codebook (4-bit codes)
BOOK = 16
#: bytes past the codes that a 16-code vector read may touch (it loads 16 bytes at once)
SLACK = 16


class Codes:
    """Values of ``shape`` as 4-bit codes (``packed``: code 2i in the low nibble of byte i, 2i+1
    in the high one) into ``book`` (float32[16])."""

    def __init__(self, values: np.ndarray) -> None:
        a = np.ascontiguousarray(values, dtype=np.float32)
        entries, codes = np.unique(a, return_inverse=True)
        finite = np.isfinite(entries).all()
        if len(entries) > BOOK or not finite:
            got = f"{len(entries)} distinct" if finite else "a value that is not finite"
            raise ValueError(
                f"4-bit values are codes into a {BOOK}-entry codebook: the values must be at most "
                f"{BOOK} distinct finite numbers, got {got}; encode the weight with the "
                "'codebook' format (k-means weight sharing) first")
        self.shape = a.shape
        self.book = np.zeros(BOOK, dtype=np.float32)
        self.book[: len(entries)] = entries
        codes = np.concatenate([codes.reshape(-1), np.zeros(a.size % 2, np.int64)]).astype(np.uint8)
        self.packed = np.zeros(len(codes) // 2 + SLACK, dtype=np.uint8)
        self.packed[: len(codes) // 2] = codes[0::2] | (codes[1::2] << 4)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def nbytes(self) -> int:
        """Bytes a product reads: half a byte per value, and the codebook."""
        return -(-self.size // 2) + self.book.nbytes

    def decode(self) -> np.ndarray:
        """The values as float32, in their shape."""
        packed = self.packed[: -SLACK]
        codes = np.stack([packed & 15, packed >> 4], axis=1).reshape(-1)[: self.size]
        return self.book[codes].reshape(self.shape)


class CodesType(types.Type):
    """numba's type of :class:`Codes` of ``ndim`` dimensions."""

    def __init__(self, ndim: int) -> None:
        self.ndim = ndim
        super().__init__(name=f"Codes4({ndim}d)")


@typeof_impl.register(Codes)
def _typeof_codes(val: Codes, c: Any) -> CodesType:
    return CodesType(val.ndim)


@register_model(CodesType)
class _CodesModel(models.StructModel):
    def __init__(self, dmm: Any, fe_type: CodesType) -> None:
        members = [("packed", types.Array(types.uint8, 1, "C")),
                   ("book", types.Array(types.float32, 1, "C")),
                   ("shape", types.UniTuple(types.intp, fe_type.ndim))]
        super().__init__(dmm, fe_type, members)


make_attribute_wrapper(CodesType, "shape", "shape")


@unbox(CodesType)
def _unbox_codes(typ: CodesType, obj: Any, c: Any) -> NativeValue:
    """A compiled Codes from the Python one: its two arrays and its shape (references borrowed
    from the object, which the caller keeps alive for the call)."""
    codes = cgutils.create_struct_proxy(typ)(c.context, c.builder)
    failed = cgutils.alloca_once_value(c.builder, cgutils.false_bit)
    for name, ty in (("packed", types.Array(types.uint8, 1, "C")),
                     ("book", types.Array(types.float32, 1, "C")),
                     ("shape", types.UniTuple(types.intp, typ.ndim))):
        attr = c.pyapi.object_getattr_string(obj, name)
        native = c.unbox(ty, attr)
        c.pyapi.decref(attr)
        setattr(codes, name, native.value)
        with c.builder.if_then(native.is_error):
            c.builder.store(cgutils.true_bit, failed)
    return NativeValue(codes._getvalue(), is_error=c.builder.load(failed))
