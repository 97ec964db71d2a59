"""Workloads: layer-shape catalogs, weight loading, and real models with their data."""

from . import images  # noqa: F401  (modules register their models)
from .models import MODELS, ModelSpec, PruneResult, get

__all__ = ["MODELS", "ModelSpec", "PruneResult", "get"]
