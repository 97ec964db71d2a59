"""Explicit 16-lane float32 vector intrinsics for the numba SpMM and vector-product kernels.

LLVM's auto-vectoriser is unreliable on the SpMM inner loops (whether it vectorises a 16- or
32-column batch tile depends on how far it unrolls first), and on AVX-512 machines it prefers
256-bit vectors. These intrinsics emit the vector loads, fused multiply-adds and stores directly,
and :func:`wide_vectors` lets the function being compiled use 512-bit registers. Accumulators
live in a fixed-size stack array (:func:`accumulator`), which LLVM keeps in vector registers
because every access is a whole vector at a constant offset. :func:`vgather_fma` is the
vector product's step: left to itself LLVM gathers with 64-bit addresses and a wrap-around test
per index (numba's negative-index rule), at twice the time.
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np
from llvmlite import binding as ll
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic

from .codes import BOOK, CodesType
from .tuning import PREFETCH  # noqa: F401  (the distance every kernel prefetches at)

#: float32 lanes in one vector step (one 512-bit register)
LANES = 16

_VEC = ir.VectorType(ir.FloatType(), LANES)
_I32 = ir.IntType(32)
_IVEC = ir.VectorType(_I32, LANES)
_MASK = ir.VectorType(ir.IntType(1), LANES)


def _compiles_avx512() -> bool:
    """Does numba compile for a CPU with AVX-512 (the host's, unless NUMBA_CPU_NAME says)?"""
    if nb.config.CPU_NAME is None:
        return bool(ll.get_host_cpu_features().get("avx512f"))
    return "+avx512f" in (nb.config.CPU_FEATURES or "").split(",")


#: look 16 codes up with one AVX-512 permute (else a gather)
_PERMUTE = _compiles_avx512()
#: :func:`vgather_fma`'s offsets when every index is a column (a constant: LLVM folds it away)
NO_OFFSETS = np.zeros(LANES, np.int32)


def _check_array(ary: Any, what: str) -> None:
    if not (isinstance(ary, types.Array) and ary.layout == "C" and ary.dtype == types.float32):
        raise TypingError(f"{what} must be a C-contiguous float32 array, got {ary}")


def _vector_at(context: Any, builder: Any, aryty: Any, ary: Any, offset: Any,
               vec: Any = _VEC) -> Any:
    """Pointer to a vector ``vec`` of floats of a C-contiguous array from flat element
    ``offset``."""
    data = context.make_array(aryty)(context, builder, ary).data
    return builder.bitcast(builder.gep(data, [offset]), vec.as_pointer())


def _width(tile: Any) -> int:
    """Lanes of one vector step for a batch tile of ``tile`` columns (a compile-time constant):
    a whole 512-bit register, or the tile itself when it is narrower (8 columns: 256 bits)."""
    if not isinstance(tile, types.IntegerLiteral):
        raise TypingError(f"the batch tile must be a compile-time constant, got {tile}")
    width = min(tile.literal_value, LANES)
    if width < 1 or LANES % width:
        raise TypingError(f"a batch tile of {tile.literal_value} columns does not split into "
                          f"vectors: use 1, 2, 4, 8 or a multiple of {LANES}")
    return width


@intrinsic(prefer_literal=True)
def vfma(typingctx: Any, acc: Any, acc_at: Any, v: Any, x: Any, x_at: Any, tile: Any) -> Any:
    """``acc[acc_at : acc_at+w] += v * x[x_at : x_at+w]`` (flat offsets), one vector FMA of
    w = min(tile, 16) lanes."""
    _check_array(acc, "accumulator")
    _check_array(x, "input")
    vec = ir.VectorType(ir.FloatType(), _width(tile))

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        accp = _vector_at(context, builder, sig.args[0], args[0], args[1], vec)
        xp = _vector_at(context, builder, sig.args[3], args[3], args[4], vec)
        scalar = context.cast(builder, args[2], sig.args[2], types.float32)
        total = builder.call(_fma(builder, vec), [_splat(builder, scalar, vec), builder.load(xp, align=4),
                                   builder.load(accp, align=4)])
        builder.store(total, accp, align=4)
        return context.get_dummy_value()

    return types.none(acc, types.intp, v, x, types.intp, tile), codegen


def _splat(builder: Any, value: Any, vty: Any) -> Any:
    """``value`` in every lane of a vector of type ``vty``."""
    one = builder.insert_element(ir.Constant(vty, ir.Undefined), value, ir.Constant(_I32, 0))
    return builder.shuffle_vector(one, ir.Constant(vty, ir.Undefined),
                                  ir.Constant(ir.VectorType(_I32, vty.count), [0] * vty.count))


def _as_i32(builder: Any, value: Any) -> Any:
    """An integer as i32 (indices and counts are intp in numba, i32 in a gather's lanes)."""
    return builder.trunc(value, _I32) if value.type.width > 32 else value


def _lane_mask(builder: Any, count: Any) -> Any:
    """The LANES-lane mask of lanes l < count."""
    lanes = ir.Constant(_IVEC, list(range(LANES)))
    return builder.icmp_signed("<", lanes, _splat(builder, _as_i32(builder, count), _IVEC))


def _fma(builder: Any, vec: Any) -> Any:
    """LLVM's fused multiply-add on float vectors of type ``vec``."""
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec] * 3),
                                          f"llvm.fma.v{vec.count}f32")


def _check_indices(indices: Any) -> bool:
    """Refuse indices other than None or a C-contiguous unsigned array of at most 32 bits (a
    compiled gather then needs no negative-index test); True when an array is given."""
    if isinstance(indices, types.NoneType):
        return False
    if not (isinstance(indices, types.Array) and indices.layout == "C"
            and isinstance(indices.dtype, types.Integer) and not indices.dtype.signed
            and indices.dtype.bitwidth <= 32):
        raise TypingError(f"indices must be None or a C-contiguous unsigned array, got {indices}")
    return True


def _masked_load(context: Any, builder: Any, aryty: Any, ary: Any, at: Any, mask: Any) -> Any:
    """The LANES elements of a C-contiguous array from flat offset ``at``, lanes off ``mask``
    left zero (and never read: the load does not touch memory past a row's end)."""
    elt = context.get_value_type(aryty.dtype)
    vty = ir.VectorType(elt, LANES)
    name = "f32" if isinstance(elt, ir.FloatType) else f"i{elt.width}"
    ptr = builder.gep(context.make_array(aryty)(context, builder, ary).data, [at])
    load = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vty, [ptr.type, _I32, _MASK, vty]),
        f"llvm.masked.load.v{LANES}{name}.p0")
    return builder.call(load, [ptr, ir.Constant(_I32, 1), mask, ir.Constant(vty, None)])


@intrinsic
def vgather_fma(typingctx: Any, acc: Any, acc_at: Any, values: Any, indices: Any, k: Any,
                count: Any, x: Any, base: Any, offsets: Any, off_at: Any) -> Any:
    """``acc[acc_at+l] += values[k+l] * x[base + offsets[off_at+l] + indices[k+l]]`` for lanes
    l < min(16, count), as one masked load of each array and one gather of x with 32-bit
    offsets. CSR and GS pass :data:`NO_OFFSETS` (the index is the column); N:M passes its group
    starts (:func:`sparsegrain.kernels.nm.group_offsets`), so that a column is its group's first
    column plus the stored in-group position; BCSR passes ``indices=None`` (x[base + offsets]:
    a block's columns from its first)."""
    _check_array(acc, "accumulator")
    _check_array(x, "input")
    if not (isinstance(offsets, types.Array) and offsets.layout == "C"
            and offsets.dtype == types.int32):
        raise TypingError(f"offsets must be a C-contiguous int32 array, got {offsets}")
    _check_values(values)
    per_lane = _check_indices(indices)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        accv, atv, valv, idxv, kv, countv, xv, basev, offv, offatv = args
        mask = _lane_mask(builder, countv)
        vals = _vector_values(context, builder, sig.args[2], valv, kv, mask)
        offp = _vector_at(context, builder, sig.args[8], offv, offatv, _IVEC)
        idx = builder.add(_splat(builder, _as_i32(builder, basev), _IVEC),
                          builder.load(offp, align=4))
        if per_lane:
            stored = _masked_load(context, builder, sig.args[3], idxv, kv, mask)
            if stored.type.element.width < 32:
                stored = builder.zext(stored, _IVEC)
            idx = builder.add(idx, stored)
        xs = _gather(builder, context.make_array(sig.args[6])(context, builder, xv).data, idx, mask)
        accp = _vector_at(context, builder, sig.args[0], accv, atv)
        fma = _fma(builder, _VEC)
        builder.store(builder.call(fma, [vals, xs, builder.load(accp, align=4)]), accp, align=4)
        return context.get_dummy_value()

    return types.none(acc, types.intp, values, indices, types.intp, types.intp, x, types.intp,
                      offsets, types.intp), codegen


@intrinsic(prefer_literal=True)
def vmove(typingctx: Any, dst: Any, dst_at: Any, src: Any, src_at: Any, tile: Any) -> Any:
    """``dst[dst_at : dst_at+w] = src[src_at : src_at+w]`` (flat offsets), w = min(tile, 16)."""
    _check_array(dst, "destination")
    _check_array(src, "source")
    vec = ir.VectorType(ir.FloatType(), _width(tile))

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        src_p = _vector_at(context, builder, sig.args[2], args[2], args[3], vec)
        value = builder.load(src_p, align=4)
        builder.store(value, _vector_at(context, builder, sig.args[0], args[0], args[1], vec),
                      align=4)
        return context.get_dummy_value()

    return types.none(dst, types.intp, src, types.intp, tile), codegen


@intrinsic
def vstore_lanes(typingctx: Any, dst: Any, at: Any, src: Any, src_at: Any, lo: Any, hi: Any
                 ) -> Any:
    """``dst[at + l] = src[src_at + l]`` for the lanes lo <= l < hi of one 16-lane vector (flat
    offsets; ``at`` may lie before ``dst``'s start where lane lo does not): one masked store,
    the other lanes' addresses never touched."""
    _check_array(dst, "destination")
    _check_array(src, "source")

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        dstv, atv, srcv, srcatv, lov, hiv = args
        value = builder.load(_vector_at(context, builder, sig.args[2], srcv, srcatv), align=4)
        mask = builder.and_(_lane_mask(builder, hiv),
                            builder.not_(_lane_mask(builder, lov)))
        base = context.make_array(sig.args[0])(context, builder, dstv).data
        _masked_store(builder, value, builder.gep(base, [atv]), mask)
        return context.get_dummy_value()

    return types.none(dst, types.intp, src, types.intp, types.intp, types.intp), codegen


def _check_values(values: Any) -> None:
    if isinstance(values, CodesType):
        return
    if not (isinstance(values, types.Array) and values.layout == "C"
            and values.dtype in (types.float32, types.uint16)):
        raise TypingError("values must be a C-contiguous float32 array, uint16 (the bits of "
                          f"float16 values) or Codes (4-bit codes), got {values}")


def _code_arrays(context: Any, builder: Any, ty: Any, value: Any) -> tuple[Any, Any]:
    """Pointers to the packed codes and to the codebook of a compiled :class:`Codes`."""
    codes = cgutils.create_struct_proxy(ty)(context, builder, value=value)
    packed = context.make_array(types.Array(types.uint8, 1, "C"))(context, builder, codes.packed)
    book = context.make_array(types.Array(types.float32, 1, "C"))(context, builder, codes.book)
    return packed.data, book.data


def _vector_values(context: Any, builder: Any, ty: Any, values: Any, at: Any, mask: Any) -> Any:
    """The LANES stored values from flat offset ``at`` as float32, lanes off ``mask`` zero.

    Codes: the 16 bytes from byte at/2 are spread so that lane l holds byte (at%2 + l)/2 (two
    constant shuffles, one chosen by at's parity), shifted to its nibble, and looked up in the
    codebook: one ``vpermps`` from a register on AVX-512, else a gather from the 64-byte table."""
    if not isinstance(ty, CodesType):
        return _widen(builder, _masked_load(context, builder, ty, values, at, mask))
    packed, book = _code_arrays(context, builder, ty, values)
    odd = builder.trunc(at, ir.IntType(1))
    byte_vec = ir.VectorType(ir.IntType(8), LANES)
    raw = builder.load(builder.bitcast(builder.gep(packed, [builder.lshr(at, at.type(1))]),
                                       byte_vec.as_pointer()), align=1)
    spread = [ir.Constant(_IVEC, [(p + lane) // 2 for lane in range(LANES)]) for p in (0, 1)]
    both = [builder.shuffle_vector(raw, ir.Constant(byte_vec, None), s) for s in spread]
    shifts = [ir.Constant(_IVEC, [4 * ((p + lane) % 2) for lane in range(LANES)]) for p in (0, 1)]
    words = builder.zext(builder.select(odd, both[1], both[0]), _IVEC)
    codes = builder.and_(builder.lshr(words, builder.select(odd, shifts[1], shifts[0])),
                         ir.Constant(_IVEC, [BOOK - 1] * LANES))
    if _PERMUTE:
        table = builder.load(builder.bitcast(book, _VEC.as_pointer()), align=4)
        permute = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(_VEC, [_VEC, _IVEC]), "llvm.x86.avx512.permvar.sf.512")
        found = builder.call(permute, [table, codes])
    else:
        found = _gather(builder, book, codes, mask)
    return builder.select(mask, found, ir.Constant(_VEC, None))


def _lane_pointers(builder: Any, base: Any, idx: Any) -> Any:
    """The vector of pointers base + idx[l] (floats) a gather or scatter takes."""
    ptrs = builder.gep(base, [idx], source_etype=ir.FloatType())
    ptrs.type = ir.VectorType(base.type, LANES)  # llvmlite types a GEP by its base alone
    return ptrs


def _strided(builder: Any, stride: Any) -> Any:
    """The offsets l * stride of the LANES lanes."""
    lanes = ir.Constant(_IVEC, list(range(LANES)))
    return builder.mul(lanes, _splat(builder, _as_i32(builder, stride), _IVEC))


def _check_destination(dst: Any) -> None:
    if not (isinstance(dst, types.Array) and dst.layout in "CF" and dst.dtype == types.float32):
        raise TypingError(f"destination must be a contiguous float32 array, got {dst}")


def _gather(builder: Any, base: Any, idx: Any, mask: Any) -> Any:
    """The floats base[idx[l]] for lanes on ``mask`` (zero elsewhere), as one gather."""
    ptrs = _lane_pointers(builder, base, idx)
    gather = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(_VEC, [ptrs.type, _I32, _MASK, _VEC]),
        f"llvm.masked.gather.v{LANES}f32.v{LANES}p0")
    return builder.call(gather, [ptrs, ir.Constant(_I32, 4), mask, ir.Constant(_VEC, None)])


@intrinsic(prefer_literal=True)
def vscatter(typingctx: Any, dst: Any, at: Any, stride: Any, src: Any, src_at: Any, tile: Any,
             add: Any) -> Any:
    """``dst[at + l*stride] = src[src_at + l]`` (``add``: +=) for the w = min(tile, 16) lanes l,
    flat offsets into a contiguous float32 ``dst`` of either layout: one scatter (and one gather
    to add) in place of a store per lane (which ran as fast: what a strided row costs is its
    cache lines, see :func:`store_block`)."""
    _check_destination(dst)
    _check_array(src, "source")
    if not isinstance(add, types.BooleanLiteral):
        raise TypingError(f"add must be a compile-time constant, got {add}")
    width = _width(tile)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        dstv, atv, stridev, srcv, srcatv = args[:5]
        base = builder.gep(context.make_array(sig.args[0])(context, builder, dstv).data, [atv])
        idx = _strided(builder, stridev)
        mask = _lane_mask(builder, ir.Constant(_I32, width))
        ptrs = _lane_pointers(builder, base, idx)
        value = builder.load(_vector_at(context, builder, sig.args[3], srcv, srcatv), align=4) \
            if width == LANES else _masked_load(context, builder, sig.args[3], srcv, srcatv, mask)
        if add.literal_value:
            value = builder.fadd(value, _gather(builder, base, idx, mask))
        scatter = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [_VEC, ptrs.type, _I32, _MASK]),
            f"llvm.masked.scatter.v{LANES}f32.v{LANES}p0")
        builder.call(scatter, [value, ptrs, ir.Constant(_I32, 4), mask])
        return context.get_dummy_value()

    return types.none(dst, types.intp, types.intp, src, types.intp, tile, add), codegen


def _widen(builder: Any, value: Any) -> Any:
    """Stored values (float32, or 16-bit integers holding float16 bits) as float32."""
    if isinstance(value.type, ir.VectorType) and isinstance(value.type.element, ir.IntType):
        half = ir.VectorType(ir.HalfType(), value.type.count)
        return builder.fpext(builder.bitcast(value, half), ir.VectorType(ir.FloatType(), half.count))
    if isinstance(value.type, ir.IntType):
        return builder.fpext(builder.bitcast(value, ir.HalfType()), ir.FloatType())
    return value


@intrinsic
def value_at(typingctx: Any, values: Any, at: Any) -> Any:
    """Stored value ``values.flat[at]`` as float32: float32 values as they are, 16-bit ones
    (float16 bits) widened, in one conversion instruction on x86 (F16C), 4-bit codes looked up
    in their codebook."""
    _check_values(values)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        at = args[1]
        if isinstance(sig.args[0], CodesType):
            packed, book = _code_arrays(context, builder, sig.args[0], args[0])
            byte = builder.load(builder.gep(packed, [builder.lshr(at, at.type(1))], inbounds=True))
            shift = builder.shl(builder.and_(at, at.type(1)), at.type(2))
            code = builder.and_(builder.lshr(builder.zext(byte, at.type), shift), at.type(BOOK - 1))
            return builder.load(builder.gep(book, [code], inbounds=True))
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        return _widen(builder, builder.load(builder.gep(data, [at], inbounds=True)))

    return types.float32(values, types.intp), codegen


def _in_place(values: Any) -> bool:
    """Are the stored values float32, which a step reads where they lie (no decoding)?"""
    return isinstance(values, types.Array) and values.dtype == types.float32


@intrinsic
def vvalues(typingctx: Any, run: Any, values: Any, at: Any, count: Any) -> Any:
    """``run[l] = values.flat[at + l]`` as float32 for lanes l < min(16, count), zero above: a
    run of stored values decoded at once (16-bit widened, 4-bit codes looked up 16 to a
    permute), so that an SpMM step reads each with :func:`run_value` as one broadcast instead of
    decoding it alone. float32 values are left where they are (nothing is emitted)."""
    _check_array(run, "run")
    _check_values(values)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        runv, valv, atv, countv = args
        if not _in_place(sig.args[1]):
            mask = _lane_mask(builder, countv)
            decoded = _vector_values(context, builder, sig.args[1], valv, atv, mask)
            zero = context.get_constant(types.intp, 0)
            builder.store(decoded, _vector_at(context, builder, sig.args[0], runv, zero), align=4)
        return context.get_dummy_value()

    return types.none(run, values, types.intp, types.intp), codegen


@intrinsic(prefer_literal=True)
def vrun_fma(typingctx: Any, acc: Any, values: Any, at: Any, count: Any, x: Any, xo: Any,
             indices: Any, tile: Any, rows: Any) -> Any:
    """Accumulator row l += value(at + l) * the ``tile`` floats of x from flat offset xo
    (+ indices[at + l] * tile where ``indices`` is an array, not None) for lanes
    l < min(count, rows), ``rows`` a constant of at most 16 (the register block's rows).

    16- and 4-bit values are decoded in one vector and each lane is broadcast from that
    register, where :func:`vvalues` and :func:`run_value` would store them and read them back
    at once (a store that the loads right after it wait on); float32 values are broadcast from
    where they lie."""
    _check_array(acc, "accumulator")
    _check_array(x, "input")
    _check_values(values)
    per_lane = _check_indices(indices)
    if not isinstance(rows, types.IntegerLiteral) or not 1 <= rows.literal_value <= LANES:
        raise TypingError(f"rows must be a constant in 1..{LANES}, got {rows}")
    vec = ir.VectorType(ir.FloatType(), _width(tile))

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        accv, valv, atv, countv, xv, xov, idxv = args[:7]
        in_place = _in_place(sig.args[1])
        if in_place:
            floats = context.make_array(sig.args[1])(context, builder, valv).data
        else:
            mask = _lane_mask(builder, countv)
            decoded = _vector_values(context, builder, sig.args[1], valv, atv, mask)
        fma = _fma(builder, vec)
        width, tile_n = vec.count, tile.literal_value
        for lane in range(rows.literal_value):
            with builder.if_then(builder.icmp_signed("<", countv.type(lane), countv)):
                if in_place:  # float32: broadcast straight from memory
                    v = _splat(builder, builder.load(builder.gep(
                        floats, [builder.add(atv, atv.type(lane))], inbounds=True)), vec)
                else:
                    v = builder.shuffle_vector(decoded, ir.Constant(_VEC, None), ir.Constant(
                        ir.VectorType(_I32, width), [lane] * width))
                xat = xov
                if per_lane:
                    data = context.make_array(sig.args[6])(context, builder, idxv).data
                    column = builder.load(builder.gep(data, [builder.add(atv, atv.type(lane))],
                                                      inbounds=True))
                    xat = builder.add(xat, builder.mul(builder.zext(column, xov.type),
                                                       xov.type(tile_n)))
                for t in range(0, tile_n, width):
                    xp = _vector_at(context, builder, sig.args[4], xv,
                                    builder.add(xat, xat.type(t)), vec)
                    ap = _vector_at(context, builder, sig.args[0], accv,
                                    context.get_constant(types.intp, lane * tile_n + t), vec)
                    builder.store(builder.call(fma, [v, builder.load(xp, align=4),
                                                     builder.load(ap, align=4)]), ap, align=4)
        return context.get_dummy_value()

    return types.none(acc, values, types.intp, types.intp, x, types.intp, indices, tile,
                      rows), codegen


@intrinsic
def vaxpy(typingctx: Any, acc: Any, acc_at: Any, values: Any, at: Any, count: Any, s: Any) -> Any:
    """``acc[acc_at + l] += value(at + l) * s`` for lanes l < min(16, count): one decoded vector
    of stored values times a scalar (a CSP cell's C values times its input)."""
    _check_array(acc, "accumulator")
    _check_values(values)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        accv, accatv, valv, atv, countv, sv = args
        mask = _lane_mask(builder, countv)
        vals = _vector_values(context, builder, sig.args[2], valv, atv, mask)
        scalar = context.cast(builder, sv, sig.args[5], types.float32)
        accp = _vector_at(context, builder, sig.args[0], accv, accatv)
        fma = _fma(builder, _VEC)
        total = builder.call(fma, [vals, _splat(builder, scalar, _VEC), builder.load(accp, align=4)])
        builder.store(total, accp, align=4)
        return context.get_dummy_value()

    return types.none(acc, types.intp, values, types.intp, types.intp, s), codegen


@intrinsic
def narrow(typingctx: Any, values: Any) -> Any:
    """Are the stored values 16-bit or 4-bit codes, decoded as they are read (a constant once
    compiled)? A kernel that reads float32 values one at a time decodes narrow ones in runs."""
    _check_values(values)
    is_narrow = not _in_place(values)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return context.get_constant(types.boolean, is_narrow)

    return types.boolean(values), codegen


@intrinsic
def run_value(typingctx: Any, run: Any, values: Any, at: Any, i: Any) -> Any:
    """Value i of the run :func:`vvalues` decoded from flat offset ``at``: ``run[i]``, or for
    float32 values ``values.flat[at + i]`` itself."""
    _check_array(run, "run")
    _check_values(values)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        runv, valv, atv, iv = args
        if _in_place(sig.args[1]):
            ary, at = context.make_array(sig.args[1])(context, builder, valv), builder.add(atv, iv)
        else:
            ary, at = context.make_array(sig.args[0])(context, builder, runv), iv
        return builder.load(builder.gep(ary.data, [at], inbounds=True))

    return types.float32(run, values, types.intp, types.intp), codegen


@intrinsic
def ld(typingctx: Any, ary: Any, at: Any) -> Any:
    """``ary.flat[at]`` for a C-contiguous array, without numba's negative-index test (a shift,
    a mask and an add per load, which in an SpMM inner loop cost as much as the FMA)."""
    if not (isinstance(ary, types.Array) and ary.layout == "C"):
        raise TypingError(f"ld takes a C-contiguous array, got {ary}")

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        return builder.load(builder.gep(data, [args[1]], inbounds=True))

    return ary.dtype(ary, types.intp), codegen


@intrinsic
def prefetch(typingctx: Any, ary: Any, at: Any) -> Any:
    """Ask for the cache line of ``ary.flat[at]`` (an array, or the packed bytes of 4-bit codes)
    to be brought to L1 ahead of its use; never faults, so ``at`` may lie past the end. The
    hardware's own prefetch falls behind the vector product's streams when the weights come
    from memory (docs/performance.md, prefetching)."""
    if not (isinstance(ary, (types.Array, CodesType))):
        raise TypingError(f"prefetch takes an array or codes, got {ary}")

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        at = args[1]
        if isinstance(sig.args[0], CodesType):
            data, at = _code_arrays(context, builder, sig.args[0], args[0])[0], builder.lshr(
                at, at.type(1))
        else:
            data = context.make_array(sig.args[0])(context, builder, args[0]).data
        byte = ir.IntType(8).as_pointer()
        ptr = builder.bitcast(builder.gep(data, [at]), byte)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte, _I32, _I32, _I32]),
            "llvm.prefetch.p0")
        # read, high locality, data cache
        builder.call(fn, [ptr, ir.Constant(_I32, 0), ir.Constant(_I32, 3), ir.Constant(_I32, 1)])
        return context.get_dummy_value()

    return types.none(ary, types.intp), codegen


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
def stack_floats(typingctx: Any, size: Any) -> Any:
    """Pointer to ``size`` float32 on the stack of the function being compiled."""
    if not isinstance(size, types.IntegerLiteral):
        raise TypingError(f"accumulator size must be a compile-time constant, got {size}")
    count = size.literal_value

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        ptr = cgutils.alloca_once(builder, ir.ArrayType(ir.FloatType(), count))
        return builder.bitcast(ptr, ir.FloatType().as_pointer())

    return types.CPointer(types.float32)(size), codegen


def _transposed(builder: Any, rows: list[Any]) -> list[Any]:
    """The 16 x 16 block whose LANES-lane rows are ``rows``, transposed: four rounds of
    shuffles, round s swapping the off-diagonal s x s sub-blocks of every 2s x 2s block."""
    rows = list(rows)
    s = LANES // 2
    while s:
        low = [c if c & s == 0 else LANES + c - s for c in range(LANES)]
        high = [c + s if c & s == 0 else LANES + c for c in range(LANES)]
        for r in range(LANES):
            if r & s == 0:
                a, b = rows[r], rows[r + s]
                rows[r] = builder.shuffle_vector(a, b, ir.Constant(_IVEC, low))
                rows[r + s] = builder.shuffle_vector(a, b, ir.Constant(_IVEC, high))
        s //= 2
    return rows


@intrinsic
def vtranspose(typingctx: Any, dst: Any, at: Any, dst_stride: Any, src: Any, src_at: Any,
               src_stride: Any, rows: Any, cols: Any, lanes: Any) -> Any:
    """``dst[at + c*dst_stride + r] = src[src_at + r*src_stride + c]`` for c < min(16, cols) and
    r < min(16, lanes), zero where r >= rows: a block of up to 16 x 16 floats transposed in
    registers (16 row loads, 64 shuffles, 16 stores, where a gather per column reads 16 cache
    lines for 16 floats); ``dst`` contiguous, either layout. Returns 1 if any float read is NaN
    or infinite, else 0."""
    _check_destination(dst)
    _check_array(src, "source")

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        dstv, atv, dstridev, srcv, srcatv, sstridev, rowsv, colsv, lanesv = args
        width = _lane_mask(builder, colsv)
        loaded = []
        for r in range(LANES):
            present = builder.icmp_signed(">", rowsv, ir.Constant(rowsv.type, r))
            mask = builder.and_(width, _splat(builder, present, _MASK))
            start = builder.add(srcatv, builder.mul(sstridev, ir.Constant(sstridev.type, r)))
            loaded.append(_masked_load(context, builder, sig.args[3], srcv, start, mask))
        bad = ir.Constant(_MASK, [False] * LANES)
        for v in loaded:
            diff = builder.fsub(v, v)  # NaN exactly where v is NaN or infinite
            bad = builder.or_(bad, builder.fcmp_unordered("uno", diff, diff))
        lanes = _lane_mask(builder, lanesv)
        dstp = context.make_array(sig.args[0])(context, builder, dstv).data
        for c, column in enumerate(_transposed(builder, loaded)):
            present = builder.icmp_signed(">", colsv, ir.Constant(colsv.type, c))
            start = builder.add(atv, builder.mul(dstridev, ir.Constant(dstridev.type, c)))
            _masked_store(builder, column, builder.gep(dstp, [start]),
                          builder.and_(lanes, _splat(builder, present, _MASK)))
        any_bad = builder.icmp_unsigned("!=", builder.bitcast(bad, ir.IntType(LANES)),
                                        ir.Constant(ir.IntType(LANES), 0))
        return builder.zext(any_bad, ir.IntType(64))

    sig = types.int64(dst, types.intp, types.intp, src, types.intp, types.intp, types.intp,
                      types.intp, types.intp)
    return sig, codegen


def _masked_store(builder: Any, value: Any, ptr: Any, mask: Any) -> None:
    """Store the LANES floats of ``value`` from float pointer ``ptr``, lanes on ``mask`` only."""
    store = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [_VEC, _VEC.as_pointer(), _I32, _MASK]),
        f"llvm.masked.store.v{LANES}f32.p0")
    builder.call(store, [value, builder.bitcast(ptr, _VEC.as_pointer()), ir.Constant(_I32, 4),
                         mask])
