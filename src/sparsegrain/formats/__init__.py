"""Storage formats (SPEC section 3): exact encoders and decoders with bit-level size reports.

``encode(weight, fmt, **params)`` looks the format up in :data:`FORMATS`; every Encoded has
``decode()``, ``storage()`` and ``to_bytes()``; :func:`from_bytes` reads the latter back.
Arrays are numpy arrays (contiguous, fixed dtypes) laid out on the 2-D view W[outputs, inputs].
"""

from ..core.registry import import_members
from .base import (
    FORMATS,
    Encoded,
    StorageReport,
    encode,
    format_spec,
    parse_format,
    pattern_params,
    register,
)
from .serial import from_bytes

import_members(__name__, __path__)  # every module registers its members

__all__ = [
    "FORMATS", "Encoded", "StorageReport", "encode", "format_spec", "from_bytes", "parse_format",
    "pattern_params", "register",
]
