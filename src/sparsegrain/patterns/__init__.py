"""Sparsity patterns: which weights may be nonzero (SPEC section 2)."""

from . import bank, csp, groups, gs, nm, pebalanced  # noqa: F401  (modules register their patterns)
from .base import Geometry, Pattern, check_sparsity, from_matrix, to_matrix
from .registry import PATTERNS, examples, pattern, register, valid_forms

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
