"""Workloads: layer-shape catalogs, weight loading, and real models with their data."""

from ..core.registry import import_members
from .catalog import NETWORKS, LayerShape, get_layer, get_network
from .models import MODELS, ModelSpec, get
from .weights import load_weights
from .workload import PruneResult, Workload, load_workload

import_members(__name__, __path__)  # every module registers its members

__all__ = [
    "MODELS",
    "NETWORKS",
    "LayerShape",
    "ModelSpec",
    "PruneResult",
    "Workload",
    "get",
    "get_layer",
    "get_network",
    "load_weights",
    "load_workload",
]
