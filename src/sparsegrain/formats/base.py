"""The Encoded protocol, the bit-level StorageReport, the format registry and ``encode``.

Every format works on the 2-D view W[outputs, inputs] of a weight (conv kernels channel-last,
as :func:`sparsegrain.patterns.to_matrix`) and holds its arrays as plain contiguous numpy arrays,
so that kernels and hardware models can use them directly; ``decode`` gives back a torch tensor
of the original shape and dtype.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from rich.table import Table

from ..core.registry import Registry
from ..patterns.base import Geometry, Pattern, check_tensor, from_matrix, shape_str, to_matrix

#: fields of a StorageReport, in print order
FIELDS: tuple[str, ...] = ("values", "codes", "indices", "pointers", "metadata", "padding", "codebook")

DEFAULT_VALUE_BITS = 16


def index_width(n: int) -> int:
    """Bits of an index into ``n`` items (0..n-1): ceil(log2 n), at least 1."""
    return max(1, math.ceil(math.log2(max(n, 1))))


def count_width(n: int) -> int:
    """Bits of a count in 0..n: ceil(log2(n + 1)), at least 1."""
    return max(1, math.ceil(math.log2(n + 1)))


def check_width(name: str, bits: int, need: int, what: str) -> None:
    """Raise if ``bits`` cannot hold a value needing ``need`` bits (``what`` says which)."""
    if not isinstance(bits, (int, np.integer)) or bits < 1:
        raise ValueError(f"{name} must be a positive integer, got {bits!r}")
    if need > bits:
        raise ValueError(f"{name} = {bits} is too narrow: {what} needs {need} bits")


def row_pointers(major: np.ndarray, rows: int, cols: int, index_bits: int | None,
                 pointer_bits: int, what: str) -> tuple[np.ndarray, int]:
    """The row pointers of a compressed-row layout whose entries lie in rows ``major`` (sorted)
    and the width of its column indices (the narrowest that holds ``cols`` where not given),
    both widths checked: ``what`` names an entry (``"entry"``, ``"block"``)."""
    indptr = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(major, minlength=rows), out=indptr[1:])
    need = index_width(cols)
    index_bits = need if index_bits is None else index_bits
    check_width("index_bits", index_bits, need, f"a column index below {cols}")
    check_width("pointer_bits", pointer_bits, count_width(len(major)), f"{len(major)} {what}s")
    return indptr, index_bits


@dataclass
class StorageReport:
    """Size of an encoded weight in bits, by field; printable as a rich table.

    ``padding`` counts every bit of slots that hold no kept weight (fillers, padded slots);
    ``padding_entries`` counts those slots.
    """

    format: str
    shape: tuple[int, ...]
    bits: dict[str, int]
    nnz: int
    padding_entries: int
    dense_bits: int

    @property
    def total_bits(self) -> int:
        return int(sum(self.bits.values()))

    @property
    def compression_ratio(self) -> float:
        """Dense bits (every element at the dense width) / encoded bits."""
        return self.dense_bits / self.total_bits if self.total_bits else math.inf

    @property
    def bits_per_nnz(self) -> float:
        return self.total_bits / self.nnz if self.nnz else math.inf

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "shape": list(self.shape),
            "bits": dict(self.bits),
            "total_bits": self.total_bits,
            "nnz": self.nnz,
            "padding_entries": self.padding_entries,
            "dense_bits": self.dense_bits,
            "compression_ratio": self.compression_ratio,
            "bits_per_nnz": self.bits_per_nnz,
        }

    def table(self) -> Table:
        t = Table(title=f"{self.format} {shape_str(self.shape)}: {self.nnz:,} kept")
        t.add_column("field")
        t.add_column("bits", justify="right")
        t.add_column("share", justify="right")
        for k, v in self.bits.items():
            t.add_row(k, f"{v:,}", f"{v / max(self.total_bits, 1):.1%}")
        t.add_row("total", f"{self.total_bits:,}", "100.0%", style="bold")
        t.caption = (
            f"compression {self.compression_ratio:.2f}x vs dense {self.dense_bits:,} bits; "
            f"{self.bits_per_nnz:.2f} bits per kept weight; {self.padding_entries:,} padding slots"
        )
        return t

    def __rich__(self) -> Table:
        return self.table()

    def __str__(self) -> str:
        lines = [f"{self.format} {shape_str(self.shape)}: {self.nnz} kept"]
        lines += [f"  {k:<9} {v:>14,}" for k, v in self.bits.items()]
        lines.append(f"  {'total':<9} {self.total_bits:>14,}  ({self.compression_ratio:.2f}x)")
        return "\n".join(lines)


@dataclass
class Encoded(ABC):
    """A weight stored in one format. Subclasses are dataclasses of numpy arrays and scalars.

    Common fields: ``shape`` (the original weight shape), ``dtype`` (its torch dtype name),
    ``value_bits`` (width of one stored value in the bit report) and ``dense_bits`` (width of one
    element of the dense reference for the compression ratio).
    """

    fmt: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    #: parameters a format string may give positionally, e.g. ``"nm:2:4"`` -> n=2, m=4
    positional: ClassVar[tuple[str, ...]] = ()
    #: does ``decode`` give the kept weights back exactly (False: values shared via a codebook)
    exact: ClassVar[bool] = True
    #: the kind (width, count, size, flag) of a scalar field whose name the serial form does not
    #: know already (:data:`~.serial.FIELD_KINDS`), so that a buffer's value is bounded
    field_kinds: ClassVar[dict[str, str]] = {}

    shape: tuple[int, ...]
    dtype: str
    value_bits: int
    dense_bits: int

    @classmethod
    def for_pattern(cls, geometry: Geometry) -> dict[str, Any] | None:
        """Parameters with which this format exploits a pattern's structure (``bcsr`` takes the
        block of ``block:RxC``), or ``None`` when it does not exploit that pattern (it may still
        hold its masks as it holds any mask)."""
        return None

    @property
    def matrix_shape(self) -> tuple[int, int]:
        """Shape of the 2-D view W[outputs, inputs] that the arrays describe."""
        rows = self.shape[0]
        return rows, math.prod(self.shape) // rows

    @classmethod
    def encode(cls, m: np.ndarray, keep: np.ndarray, /, weight: torch.Tensor,
               value_bits: int = DEFAULT_VALUE_BITS, dense_bits: int | None = None,
               **params: Any) -> Encoded:
        """Encode the 2-D view ``m`` with kept positions ``keep``; ``weight`` is the original.
        ``value_bits`` is the width of a stored value, ``dense_bits`` of a dense element (the
        compression reference; default ``value_bits``). ``m`` and ``keep`` are positional, so
        a format may name its own parameter ``m`` (N:M)."""
        return cls._encode(m, keep, common(weight, value_bits, dense_bits), **params)

    @classmethod
    @abstractmethod
    def _encode(cls, m: np.ndarray, keep: np.ndarray, base: dict[str, Any], /, *args: Any,
                **params: Any) -> Encoded:
        """The format's own encoding; ``base`` holds the fields every format shares. Overrides
        name their own parameters after ``base``, which ``*args, **params`` here admits."""

    @classmethod
    def parameters(cls) -> list[str]:
        """The parameters ``encode`` takes: the value widths, then the format's own."""
        own = list(inspect.signature(cls._encode).parameters)[3:]  # after m, keep, base
        return ["value_bits", "dense_bits", *own]

    @abstractmethod
    def matrix(self) -> np.ndarray:
        """The decoded 2-D view as a numpy array."""

    @abstractmethod
    def _bits(self) -> dict[str, int]:
        """Bits by field."""

    @property
    @abstractmethod
    def nnz(self) -> int:
        """Kept weights stored (a kept weight may be exactly zero)."""

    @property
    def padding_entries(self) -> int:
        return 0

    def decode(self) -> torch.Tensor:
        """The weight back, in its original shape and dtype."""
        m = torch.from_numpy(np.ascontiguousarray(self.matrix()))
        return from_matrix(m, self.shape).to(getattr(torch, self.dtype))

    def storage(self) -> StorageReport:
        return StorageReport(
            format=self.fmt,
            shape=tuple(self.shape),
            bits={k: int(v) for k, v in self._bits().items()},
            nnz=int(self.nnz),
            padding_entries=int(self.padding_entries),
            dense_bits=math.prod(self.shape) * self.dense_bits,
        )

    def to_bytes(self, packed: bool = False) -> bytes:
        """A self-describing serialised form (versioned header, arrays, checksum); ``packed``
        stores integer arrays in the bits their values need (see :mod:`.serial`)."""
        from .serial import dumps

        return dumps(self, packed)

    def fields(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


FORMATS: Registry[type[Encoded]] = Registry("format", attr="fmt")
#: class decorator adding an Encoded subclass under its format name (``@register("csr")``)
register = FORMATS.register


def check_weight(weight: torch.Tensor) -> torch.Tensor:
    """:func:`check_tensor`, with a fast path: a float weight whose float64 sum is finite holds
    no NaN or inf (one pass instead of a full ``isfinite`` tensor)."""
    if (
        isinstance(weight, torch.Tensor) and weight.is_floating_point()
        and weight.dim() in (2, 3, 4) and weight.numel()
        and bool(torch.isfinite(weight.detach().sum(dtype=torch.float64)))
    ):
        return weight.detach()
    return check_tensor(weight, "weight")


def parse_format(text: str) -> tuple[str, dict[str, Any]]:
    """``"gs:8:1"`` -> ``("gs", {"b": 8, "e": 1})``; ``"bcsr:4x8"``, ``"eie:16"``, ``"csr"``,
    ``"gs:8:1:scatter=true"`` (options as ``key=value``, true/false or integers)."""
    kind, *args = [a.strip() for a in str(text).strip().lower().split(":")]
    if kind not in FORMATS:
        raise ValueError(f"unknown format {text!r}; valid: {', '.join(FORMATS)}")
    names = FORMATS[kind].positional
    values = [v for a in args if "=" not in a for v in a.split("x")]
    options = dict(a.split("=", 1) for a in args if "=" in a)
    well_formed = all(
        k.isidentifier() and (v in ("true", "false") or v.isdigit()) for k, v in options.items()
    )
    if len(values) > len(names) or not all(v.isdigit() for v in values) or not well_formed:
        forms = ":".join([kind, *(n.upper() for n in names)]) if names else kind
        raise ValueError(f"malformed format {text!r}; form: {forms}[:option=value]")
    params: dict[str, Any] = {n: int(v) for n, v in zip(names, values, strict=False)}
    for k, v in options.items():
        params[k] = v == "true" if v in ("true", "false") else int(v)
    known = FORMATS[kind].parameters()
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(f"format {kind} takes no parameter {', '.join(unknown)}; it takes: "
                         f"{', '.join(known)}")
    zero = [k for k, v in params.items() if not isinstance(v, bool) and v < 1]
    if zero:
        raise ValueError(f"format {text!r}: {zero[0]} must be a positive integer, got "
                         f"{params[zero[0]]}")
    return kind, params


def format_spec(kind: str, params: dict[str, Any]) -> str:
    """The string :func:`parse_format` reads back as ``(kind, params)``: positional parameters
    in order, the rest as ``key=value``."""
    names = FORMATS.lookup(kind).positional
    lead = []
    for n in names:
        if n not in params:
            break
        lead.append(str(int(params[n])))
    rest = [f"{k}={str(v).lower()}" for k, v in params.items() if k not in names[: len(lead)]]
    return ":".join([kind, *lead, *rest])


def pattern_params(fmt: str, spec: Pattern | None) -> dict[str, Any]:
    """Parameters of format ``fmt`` for a pattern's masks: what the format derives from the
    pattern's geometry, or none (its defaults) when it does not exploit that pattern."""
    if spec is None:
        return {}
    return FORMATS.lookup(fmt).for_pattern(spec.geometry) or {}


def common(weight: torch.Tensor, value_bits: int, dense_bits: int | None) -> dict[str, Any]:
    """The Encoded fields every format shares."""
    check_width("value_bits", value_bits, 1, "a value")
    dense_bits = value_bits if dense_bits is None else dense_bits
    check_width("dense_bits", dense_bits, 1, "a dense element")
    return dict(
        shape=tuple(int(s) for s in weight.shape),
        dtype=str(weight.dtype).removeprefix("torch."),
        value_bits=int(value_bits),
        dense_bits=int(dense_bits),
    )


def numpy_values(m: torch.Tensor) -> np.ndarray:
    """A float tensor as numpy, exactly (bfloat16 widened to float32)."""
    if m.dtype == torch.bfloat16:
        m = m.float()
    return m.contiguous().numpy()


def encode(
    weight: torch.Tensor, fmt: str, mask: torch.Tensor | None = None, **params: Any
) -> Encoded:
    """Encode ``weight`` in format ``fmt`` (``"csr"``, ``"eie"``, ``"gs"``, or with positional
    parameters ``"nm:2:4"``, ``"gs:8:1"``, ``"bcsr:4x4"``, ``"csp:8"``, ``"eie:64"``).

    Kept positions are ``weight != 0`` unless ``mask`` (bool, weight's shape) is given; a kept
    weight may be exactly zero, and positions outside the mask are stored as zero. ``params`` are
    the format's widths and shapes (``value_bits`` = 16 by default; see docs/formats.md).
    """
    fmt, given = parse_format(fmt) if isinstance(fmt, str) else (fmt, {})
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    params = {**given, **params}
    original = weight.dtype if isinstance(weight, torch.Tensor) else None
    if original is not None and not original.is_floating_point and original != torch.bool:
        if weight.numel() and int(weight.abs().max()) > 2**24:
            raise ValueError("integer weights beyond 2^24 in magnitude do not survive the "
                             "float32 values every format stores; convert them first")
    weight = check_weight(weight)
    if mask is None:
        keep = weight != 0
    else:
        if not isinstance(mask, torch.Tensor):
            raise ValueError(f"mask must be a torch.Tensor, got {type(mask).__name__}")
        if mask.shape != weight.shape:
            raise ValueError(
                f"mask shape {shape_str(mask.shape)} differs from weight shape "
                f"{shape_str(weight.shape)}"
            )
        if mask.dtype != torch.bool and not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError(f"mask must be boolean (True = kept) or 0/1, got {mask.dtype} "
                             "values other than 0 and 1")
        keep = mask.bool()
        weight = torch.where(keep, weight, torch.zeros((), dtype=weight.dtype))
    encoder = FORMATS[fmt].encode
    names = FORMATS[fmt].parameters()
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise ValueError(
            f"format {fmt} takes no parameter {', '.join(unknown)}; it takes: {', '.join(names)}"
        )
    m = numpy_values(to_matrix(weight))
    k = to_matrix(keep).contiguous().numpy()
    out = encoder(np.ascontiguousarray(m), np.ascontiguousarray(k), weight=weight, **params)
    if original is not None and original != weight.dtype:
        out.dtype = str(original).removeprefix("torch.")  # an integer weight decodes as itself
    return out
