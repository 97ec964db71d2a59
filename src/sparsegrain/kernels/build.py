"""Kernels built from weights: a weight encoded in a kernel format (with float32, float16 or
4-bit codebook values) and wrapped in its kernel, and the candidate kernels that hold a mask."""

from __future__ import annotations

from typing import Any

import torch

from ..formats import encode, format_spec, pattern_params
from ..patterns import Pattern
from .base import KERNELS, SparseKernel, native_kernels
from .layout import check_value_bits


def kernel_for(weight: torch.Tensor, fmt: str, value_bits: int = 32, **params: Any) -> SparseKernel:
    """Encode ``weight`` (its zeros pruned) in ``fmt`` with float32 values (float16 for
    ``value_bits=16``, 4-bit codebook codes for ``value_bits=4``: :func:`stored_encoding`) and
    wrap it in a kernel."""
    check_value_bits(value_bits)
    return from_encoded(stored_encoding(weight, fmt, value_bits, **params))


#: what a kernel label adds for the width its values are stored in
VALUE_LABELS = {32: "", 16: " fp16", 4: " 4-bit"}


def stored_encoding(weight: torch.Tensor, fmt: str, value_bits: int,
                    mask: torch.Tensor | None = None, **params: Any) -> Any:
    """``weight`` encoded in ``fmt`` as a kernel of ``value_bits`` stores it (so the Encoded,
    and a saved file, hold what the kernel holds): 16-bit values as their float16 rounding, 4-bit
    ones as a ``codebook`` encoding (k-means weight sharing) whose codes ``fmt`` holds."""
    if value_bits == 4:
        return encode(weight.float(), "codebook", mask=mask, value_bits=32, code_bits=4,
                      index=fmt, index_params=params)
    return encode(weight.half() if value_bits == 16 else weight.float(), fmt, mask=mask,
                  value_bits=value_bits, **params)


def index_of(enc: Any) -> Any:
    """The Encoded whose arrays a kernel reads: a codebook's index format, else ``enc``."""
    return enc.inner if enc.fmt == "codebook" else enc


def from_encoded(enc: Any) -> SparseKernel:
    """The kernel of an Encoded of a kernel format (or of a codebook whose codes one holds),
    keeping the Encoded (``kernel.encoded``) for :func:`sparsegrain.save`."""
    inner = index_of(enc)
    kernel = KERNELS.lookup(inner.fmt).from_encoded(inner)
    kernel.encoded = enc
    return kernel


def tries(fmt: str, spec: Pattern | None) -> list[tuple[str, dict[str, Any]]]:
    """(format, parameters) to try on a layer: with a pattern, the kernels that exploit it (as
    their formats derive them from it) and CSR; without, every kernel's ``auto_params``."""
    if fmt != "auto":
        return [(fmt, pattern_params(fmt, spec))]
    if spec is not None:
        return [*native_kernels(spec), *([("csr", {})] if spec.kind != "unstructured" else [])]
    return [(name, params) for name, cls in KERNELS.items() for params in cls.auto_params]


def candidates(weight: torch.Tensor, mask: torch.Tensor, fmt: str,
               spec: Pattern | None = None, value_bits: int = 32) -> dict[str, SparseKernel]:
    """Kernels for every format of :func:`tries` that holds the mask, by format string (with
    " fp16" or " 4-bit" after it for narrower values)."""
    if fmt != "auto" and fmt not in KERNELS:
        raise ValueError(f"unknown kernel format {fmt!r}; valid: auto, {', '.join(KERNELS)}")
    out: dict[str, SparseKernel] = {}
    for name, params in tries(fmt, spec):
        label = format_spec(name, params) + VALUE_LABELS[value_bits]
        try:
            enc = stored_encoding(weight, name, value_bits, mask=mask, **params)
        except ValueError:
            if fmt != "auto":
                raise
            continue
        if (fmt == "auto" and name == "bcsr"
                and index_of(enc).blocks.size > 1.25 * max(int(mask.sum()), 1)):
            continue  # blocks mostly padding: not a block pattern, unless bcsr was asked for
        out[label] = from_encoded(enc)
    return out
