"""Explicit 16-lane float32 vector steps for the numba SpMM kernels.

LLVM's auto-vectoriser is unreliable on the SpMM inner loops (whether it vectorises a 16- or
32-column batch tile depends on how far it unrolls first), and on AVX-512 machines it prefers
256-bit vectors. These intrinsics emit the vector loads, fused multiply-adds and stores directly,
and :func:`wide_vectors` lets the function being compiled use 512-bit registers. Accumulators
live in a fixed-size stack array (:func:`accumulator`), which LLVM keeps in vector registers
because every access is a whole vector at a constant offset.
"""

from __future__ import annotations

from typing import Any

import numba as nb
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic

#: float32 lanes in one vector step (one 512-bit register)
LANES = 16

_VEC = ir.VectorType(ir.FloatType(), LANES)


def _check_array(ary: Any, what: str) -> None:
    if not (isinstance(ary, types.Array) and ary.layout == "C" and ary.dtype == types.float32):
        raise TypingError(f"{what} must be a C-contiguous float32 array, got {ary}")


def _vector_at(context: Any, builder: Any, aryty: Any, ary: Any, offset: Any) -> Any:
    """Pointer to LANES floats of a C-contiguous array from flat element ``offset``."""
    data = context.make_array(aryty)(context, builder, ary).data
    return builder.bitcast(builder.gep(data, [offset]), _VEC.as_pointer())


@intrinsic
def vfma(typingctx: Any, acc: Any, acc_at: Any, v: Any, x: Any, x_at: Any) -> Any:
    """``acc[acc_at : acc_at+16] += v * x[x_at : x_at+16]`` (flat offsets), one vector FMA."""
    _check_array(acc, "accumulator")
    _check_array(x, "input")

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        accp = _vector_at(context, builder, sig.args[0], args[0], args[1])
        xp = _vector_at(context, builder, sig.args[3], args[3], args[4])
        scalar = context.cast(builder, args[2], sig.args[2], types.float32)
        zero = ir.Constant(ir.IntType(32), 0)
        one = builder.insert_element(ir.Constant(_VEC, ir.Undefined), scalar, zero)
        splat = builder.shuffle_vector(
            one,
            ir.Constant(_VEC, ir.Undefined),
            ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES),
        )
        fma = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(_VEC, [_VEC] * 3), f"llvm.fma.v{LANES}f32"
        )
        total = builder.call(fma, [splat, builder.load(xp, align=4), builder.load(accp, align=4)])
        builder.store(total, accp, align=4)
        return context.get_dummy_value()

    return types.none(acc, types.intp, v, x, types.intp), codegen


@intrinsic
def vmove(typingctx: Any, dst: Any, dst_at: Any, src: Any, src_at: Any) -> Any:
    """``dst[dst_at : dst_at+16] = src[src_at : src_at+16]`` (flat offsets)."""
    _check_array(dst, "destination")
    _check_array(src, "source")

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        value = builder.load(_vector_at(context, builder, sig.args[2], args[2], args[3]), align=4)
        builder.store(value, _vector_at(context, builder, sig.args[0], args[0], args[1]), align=4)
        return context.get_dummy_value()

    return types.none(dst, types.intp, src, types.intp), codegen


@intrinsic
def vzero(typingctx: Any, dst: Any, dst_at: Any) -> Any:
    """``dst[dst_at : dst_at+16] = 0``."""
    _check_array(dst, "destination")

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        ptr = _vector_at(context, builder, sig.args[0], args[0], args[1])
        builder.store(ir.Constant(_VEC, [0.0] * LANES), ptr, align=4)
        return context.get_dummy_value()

    return types.none(dst, types.intp), codegen


@intrinsic
def wide_vectors(typingctx: Any) -> Any:
    """Let the function being compiled use 512-bit vectors (LLVM prefers 256 bits on AVX-512).

    llvmlite has no API for string function attributes, so they are added to the attribute set
    directly; LLVM reads them as written in the IR text.
    """

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        attrs = builder.function.attributes
        set.add(attrs, f'"prefer-vector-width"="{32 * LANES}"')
        set.add(attrs, f'"min-legal-vector-width"="{32 * LANES}"')
        return context.get_dummy_value()

    return types.none(), codegen


@intrinsic(prefer_literal=True)
def _stack_floats(typingctx: Any, size: Any) -> Any:
    """Pointer to ``size`` float32 on the stack of the function being compiled."""
    if not isinstance(size, types.IntegerLiteral):
        raise TypingError(f"accumulator size must be a compile-time constant, got {size}")
    count = size.literal_value

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        ptr = cgutils.alloca_once(builder, ir.ArrayType(ir.FloatType(), count))
        return builder.bitcast(ptr, ir.FloatType().as_pointer())

    return types.CPointer(types.float32)(size), codegen


@nb.njit(inline="always")
def accumulator(size: int) -> Any:  # pragma: no cover - compiled
    """A float32 stack array of ``size`` elements (not zeroed); ``size`` a compile-time constant."""
    return nb.carray(_stack_floats(size), size)


@nb.njit(inline="always")
def zero_block(acc: Any) -> None:  # pragma: no cover - compiled
    """Zero a whole accumulator block."""
    for a in range(0, acc.shape[0], LANES):
        vzero(acc, a)


@nb.njit(inline="always")
def store_block(
    acc: Any, y: Any, row0: int, rows: int, t0: int, tile: int
) -> None:  # pragma: no cover - compiled
    """Write accumulator rows 0..rows-1 (``tile`` columns each) to y[row0 + i, t0 : t0 + tile]."""
    n = y.shape[1]
    for i in range(acc.shape[0] // tile):
        if i < rows:
            for t in range(0, tile, LANES):
                vmove(y, (row0 + i) * n + t0 + t, acc, i * tile + t)


@nb.njit(inline="always")
def fold_rows(acc: Any, tile: int) -> None:  # pragma: no cover - compiled
    """Add every accumulator row (``tile`` columns each) into row 0: partial sums kept in
    separate rows give independent FMA chains, so one output row still fills the FMA pipes."""
    for i in range(1, acc.shape[0] // tile):
        for t in range(0, tile, LANES):
            vfma(acc, t, 1.0, acc, i * tile + t)


@nb.njit(inline="always")
def add_row(
    acc: Any, i: int, y: Any, row: int, t0: int, tile: int
) -> None:  # pragma: no cover - compiled
    """y[row, t0 : t0 + tile] += accumulator row i."""
    n = y.shape[1]
    for t in range(0, tile, LANES):
        vfma(y, row * n + t0 + t, 1.0, acc, i * tile + t)
