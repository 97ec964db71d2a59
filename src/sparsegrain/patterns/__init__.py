"""Sparsity patterns: which weights may be nonzero (SPEC section 2)."""

from ..core.registry import import_members
from .base import Geometry, Pattern, check_sparsity, from_matrix, to_matrix
from .registry import PATTERNS, examples, pattern, register, valid_forms

import_members(__name__, __path__)  # every module registers its members

__all__ = [
    "PATTERNS",
    "Geometry",
    "Pattern",
    "check_sparsity",
    "examples",
    "from_matrix",
    "pattern",
    "register",
    "to_matrix",
    "valid_forms",
]
