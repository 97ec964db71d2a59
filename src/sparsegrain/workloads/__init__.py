"""Workloads: layer-shape catalogs, weight loading, and real models with their data."""

from .catalog import NETWORKS, Layer, get_layer, get_network
from .weights import load_weights

__all__ = ["NETWORKS", "Layer", "get_layer", "get_network", "load_weights"]
