"""Trade-off sweeps: prune a real model with every pattern at every sparsity, measure accuracy,
storage and accelerator cost, and keep every result in an embedded SQLite store."""

from .config import DENSE, Pruning, SweepConfig
from .point import measure_point
from .store import STORE_NAME, ResultStore, Row, open_store
from .sweep import SweepRun, run_sweep, sweep_keys

__all__ = [
    "DENSE",
    "STORE_NAME",
    "Pruning",
    "ResultStore",
    "Row",
    "SweepConfig",
    "SweepRun",
    "measure_point",
    "open_store",
    "run_sweep",
    "sweep_keys",
]
