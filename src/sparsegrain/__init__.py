"""sparsegrain: hardware-aware sparsity for deep neural networks.

Pipeline: model -> pattern (mask) -> pruning -> format (encode) -> kernel / hardware model ->
results store -> report.
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the names as type checkers see them; at run time each loads on first use
    from .api import tradeoff
    from .deploy import load, save, sparsify
    from .formats import encode
    from .hardware import simulate
    from .patterns import Pattern, pattern
    from .workloads import Workload

__version__ = "0.1.0"

__all__ = ["Pattern", "Workload", "__version__", "encode", "load", "pattern", "save", "simulate",
           "sparsify", "tradeoff"]

#: public names and the subpackage each comes from, imported on first use so that
#: ``import sparsegrain`` (and ``sparsegrain --help``) does not load torch
_FROM = {"encode": "formats", "simulate": "hardware", "Pattern": "patterns", "pattern": "patterns",
         "Workload": "workloads", "tradeoff": "api", "save": "deploy",
         "load": "deploy", "sparsify": "deploy"}


def __getattr__(name: str) -> object:
    """A public name (:data:`_FROM`) or a subpackage (``sparsegrain.patterns``), imported on
    first use."""
    if name in _FROM:
        return getattr(importlib.import_module(f".{_FROM[name]}", __name__), name)
    try:
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module 'sparsegrain' has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
