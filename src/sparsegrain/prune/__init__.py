"""Pruning over training: masks as parametrizations, schedules, criteria, YAML recipes."""

from .config import LayerRule, PruneConfig, load_config
from .criteria import CRITERIA
from .pruner import Mask, Pruner, prunable_layers, weight_names
from .schedules import SCHEDULES, Gradual, Iterative, OneShot, Schedule, schedule

__all__ = [
    "CRITERIA",
    "SCHEDULES",
    "Gradual",
    "Iterative",
    "LayerRule",
    "Mask",
    "OneShot",
    "PruneConfig",
    "Pruner",
    "Schedule",
    "load_config",
    "prunable_layers",
    "schedule",
    "weight_names",
]
