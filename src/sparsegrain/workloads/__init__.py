"""Workloads: layer-shape catalogs, weight loading, and real models with their data."""

from . import images, minilm, ocr  # noqa: F401  (modules register their models)
from .catalog import NETWORKS, LayerShape, get_layer, get_network
from .models import MODELS, ModelSpec, PruneResult, get
from .weights import load_weights

__all__ = [
    "MODELS",
    "NETWORKS",
    "LayerShape",
    "ModelSpec",
    "PruneResult",
    "get",
    "get_layer",
    "get_network",
    "load_weights",
]
