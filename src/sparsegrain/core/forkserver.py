"""Worker processes that start fast: a fork server that imports torch, its compiler stack and
sparsegrain once, and forks every worker from there. Nothing here imports torch itself, so a
command can start the server before it imports torch for its own work, and the two imports
overlap (the server's took 4.3 s here, torch's compiler stack included).
"""

from __future__ import annotations

import multiprocessing as mp


def worker_context() -> mp.context.BaseContext:
    """Processes forked from a fork server that imported torch, its compiler stack and
    sparsegrain once (a worker starts in a fraction of a second, and never inherits the threads
    of this process, which a plain fork would); spawned ones where there is no fork server."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    # torch._dynamo: torch's optimizers import it (and sympy, ~900 modules, 2.5 s) at their
    # first step; preloaded, no worker pays that again
    ctx.set_forkserver_preload(["torch", "torch._dynamo", "sparsegrain.experiments.point",
                                "sparsegrain.experiments.lifeline"])
    return ctx


def start_fork_server() -> None:
    """Start the fork server now, so that its imports overlap with the parent's own start
    (loading the workload, hashing it, opening the store)."""
    if worker_context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()
