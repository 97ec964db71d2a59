"""Where a sweep's points run: in this process, in local worker processes, or as Ray tasks.

Every runner takes the same jobs (pattern, sparsity, seed, per-layer targets) and yields each
finished point's rows for the parent to commit in one transaction, so the numbers do not depend
on where a point ran (every point seeds torch itself and trains on one thread).

- **serial**: :func:`~.point.measure_point` in this process, the CPU latency timed at once.
- **processes** (``--workers N``): N worker processes (forked from a fork server that has
  imported torch and sparsegrain), each with one torch thread (the sweep's setting), so N
  workers use N cores.
- **ray** (``--ray [ADDRESS]``): one task per point on a Ray cluster, each asking for one CPU
  (and one GPU with ``--device cuda``).

In both parallel runners a worker does not time the CPU latency (the other workers would slow
it): it returns the pruned model's state, the parent stores it with the point's rows and times
every such point once the workers are done (``ResultStore.pending``), so an interrupted sweep
loses nothing but the points in flight. A point whose task fails, or whose worker is lost, is
tried once more; a second failure is an error row naming the point.

The workload reaches the workers by name when it has one that every worker can load (a
built-in model, an installed plugin, ``FILE.py:NAME`` or ``module:NAME``: the file or module
must then exist on every machine), and otherwise pickled by value with cloudpickle. A worker
checks that it got the weights the parent hashed.
"""

from __future__ import annotations

import concurrent.futures as cf
import io
import os
import socket
import sys
from collections.abc import Callable, Iterator
from multiprocessing.managers import SyncManager
from typing import Any, Protocol

import torch

from ..core.forkserver import start_fork_server, worker_context
from ..workloads import MODELS
from ..workloads.workload import (
    FILE_MODULE_PREFIX,
    Workload,
    is_reference,
    load_workload,
    plugin_names,
)
from .config import SweepConfig
from .point import ACCURACY, CPU, measure_point, point_keys, point_rows
from .store import ERROR, Pending, Row

Job = tuple[str, float, int, "dict[str, float] | None"]
Done = tuple[list[Row], "Pending | None"]
DEVICES = ("cpu", "cuda", "auto")


def check_device(device: str) -> str:
    """``cpu`` or ``cuda`` (``auto``: cuda where there is one), or a one-line ValueError."""
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; valid: {', '.join(DEVICES)}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: torch sees no CUDA device here; use --device cpu or auto")
    return device


def check_options(workers: Any, ray: str | None) -> None:
    """A one-line ValueError for a worker count below 1 or ``--workers`` with ``--ray``."""
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if ray is not None and workers > 1:
        raise ValueError("--workers and --ray exclude each other: Ray places the tasks itself")


class Runner(Protocol):
    """Where points run: each job's rows (and, from a worker, the pruned state the parent times
    later) as the point finishes, in any order."""

    def run(self, jobs: list[Job], say: Callable[[str], None]) -> Iterator[Done]: ...


def make_runner(spec: Workload, cfg: SweepConfig, workers: int, ray: str | None, device: str,
                named: bool = True) -> Runner:
    """The runner for these options, already checked by :func:`check_options` (see the module
    docstring); ``named``: the workload was loaded from ``cfg.model`` (not handed over as an
    object)."""
    if ray is not None:
        return RayRunner(spec, cfg, device, ray, named)
    if workers > 1:
        return ProcessRunner(spec, cfg, device, workers, named)
    return SerialRunner(spec, cfg, device)


def by_name(cfg: SweepConfig) -> bool:
    """Can a worker load the workload from its name alone?"""
    return cfg.model in MODELS or is_reference(cfg.model) or cfg.model in plugin_names()


def ship(spec: Workload, cfg: SweepConfig, named: bool) -> tuple[str, Any]:
    """What a worker needs to get the workload: ("name", (model, state)) when the sweep loaded
    it from its name (``named``) and workers can too, the state being the parent's built
    weights (a rebuilt model may differ: other threads, an unseeded step), else ("pickle",
    bytes) by value."""
    if named and by_name(cfg):
        buf = io.BytesIO()
        torch.save(spec.model.state_dict(), buf)
        return "name", (cfg.model, buf.getvalue())
    import cloudpickle

    for name, module in list(sys.modules.items()):  # workload files imported by path
        if name.startswith(FILE_MODULE_PREFIX):
            cloudpickle.register_pickle_by_value(module)
    try:
        return "pickle", cloudpickle.dumps(spec)
    except Exception as e:  # noqa: BLE001 - whatever the workload holds that cannot travel
        raise ValueError(f"the workload cannot be sent to worker processes ({type(e).__name__}: "
                         f"{e}); give it by name (FILE.py:NAME or package.module:NAME) so that "
                         "each worker imports it") from None


_LOADED: dict[str, Workload] = {}
#: what the process pool's initializer handed this worker: (how, what) as :func:`ship` made it
_SHIPPED: list[tuple[str, Any]] = []


def unship(how: str, what: Any, weights: str) -> Workload:
    """The workload in a worker (loaded once per process) with the parent's weights, checked
    against the parent's hash; ``how == "installed"``: what the pool's initializer got."""
    if how == "installed":
        how, what = _SHIPPED[0]
    key = f"{how}:{what[0] if how == 'name' else hash(what)}"
    if key not in _LOADED:
        if how == "name":
            wl = load_workload(what[0])
            if wl.weights_hash() != weights:
                wl.model.load_state_dict(torch.load(io.BytesIO(what[1]), weights_only=True))
        else:
            import cloudpickle

            wl = cloudpickle.loads(what)
        if wl.weights_hash() != weights:
            raise ValueError(f"the workload {wl.label} built in a worker differs from the "
                             "sweep's even with the sweep's weights loaded (a buffer outside its "
                             "state dict?); pass the Workload object itself, or make it "
                             "deterministic")
        _LOADED[key] = wl
    return _LOADED[key]


def die_with_parent() -> None:
    """Have the kernel end this process when its parent ends (Linux), so that killing a
    sweep's driver leaves no worker, manager or fork server behind."""
    import ctypes
    import signal

    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # not Linux: the executor's own shutdown is what there is
    if os.getppid() != parent:  # the parent ended before the request was in place
        os._exit(1)


def _install(how: str, what: Any) -> None:
    """A worker's start: tied to its parent's life, holding the shipped workload."""
    die_with_parent()
    _SHIPPED[:] = [(how, what)]


def work(how: str, what: Any, cfg_dict: dict[str, Any], job: Job, device: str,
         status: Any = None) -> tuple[list[Row], dict[str, Any] | None]:
    """One point in a worker: its rows and, when the CPU latency is to be timed, the pruned
    model's state. ``status`` (a queue) hears ``(pid, text)`` as the point moves on."""
    torch.set_num_threads(1)
    cfg = SweepConfig.from_dict(cfg_dict)
    spec = unship(how, what, cfg.weights)
    pattern, sparsity, seed, targets = job
    label = f"{pattern} @ {sparsity:g} (seed {seed})"

    def say(stage: str) -> None:
        if status is not None:
            status.put((os.getpid(), f"{label}: {stage}"))

    pruned: dict[str, Any] = {}
    rows = measure_point(spec, cfg, pattern, sparsity, seed, say, targets, device, pruned)
    if status is not None:
        status.put((os.getpid(), "idle"))
    return rows, pruned.get("state")


def failed_row(spec: Workload, cfg: SweepConfig, job: Job, error: BaseException) -> Row:
    """The error row of a point that failed twice: its accuracy row, naming the point."""
    pattern, sparsity, seed, _ = job
    reason = (f"point {pattern} @ {sparsity:g} (seed {seed}) failed twice: "
              f"{type(error).__name__}: {error}")
    return point_rows(spec, cfg, pattern, sparsity, seed)(ACCURACY, "", ERROR, {"reason": reason})


def pending(cfg: SweepConfig, job: Job, state: dict[str, Any] | None) -> Pending | None:
    """What the parent stores to time this point's CPU latency later."""
    if state is None or not cfg.timed_batch:
        return None
    pattern, sparsity, seed, _ = job
    return Pending(point_keys(cfg, pattern, sparsity, seed)[CPU, CPU], pattern, sparsity, seed,
                   state)


def progress(status: Any, doing: dict[int, str], what: str) -> str:
    """The progress line: ``doing`` (pid -> text) updated from the ``status`` queue."""
    while not status.empty():
        pid, text = status.get()
        doing[pid] = text
    busy = [t for t in doing.values() if t != "idle"]
    return f"{len(busy)} {what}: " + " | ".join(busy[:4])


class SerialRunner:
    """Every point in this process, in order."""

    def __init__(self, spec: Workload, cfg: SweepConfig, device: str) -> None:
        self.spec, self.cfg, self.device = spec, cfg, device

    def run(self, jobs: list[Job], say: Callable[[str], None]) -> Iterator[Done]:
        for pattern, sparsity, seed, targets in jobs:
            label = f"{pattern} @ {sparsity:g} (seed {seed})"
            yield measure_point(self.spec, self.cfg, pattern, sparsity, seed,
                                      lambda stage, label=label: say(f"{label}: {stage}"),
                                      targets, self.device), None


class ProcessRunner:
    """Points in N worker processes; a broken pool is replaced and its points retried."""

    def __init__(self, spec: Workload, cfg: SweepConfig, device: str, workers: int,
                 named: bool) -> None:
        self.spec, self.cfg, self.device, self.workers = spec, cfg, device, workers
        self.how, self.what = ship(spec, cfg, named)
        start_fork_server()

    def run(self, jobs: list[Job], say: Callable[[str], None]) -> Iterator[Done]:
        ctx = worker_context()
        manager = SyncManager(ctx=ctx)
        manager.start(die_with_parent)
        status = manager.Queue()
        doing: dict[int, str] = {}
        tries = dict.fromkeys(range(len(jobs)), 0)

        def new_pool() -> cf.ProcessPoolExecutor:
            return cf.ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_install,
                                          initargs=(self.how, self.what))

        pool = new_pool()
        try:
            futures = {self._submit(pool, job, status): i for i, job in enumerate(jobs)}
            while futures:
                done, _ = cf.wait(futures, timeout=0.5, return_when=cf.FIRST_COMPLETED)
                say(progress(status, doing, f"of {self.workers} workers"))
                broken, again = False, []
                for f in done:
                    i = futures.pop(f)
                    try:
                        rows, state = f.result()
                    except Exception as e:  # noqa: BLE001 - retried once, then an error row
                        broken = broken or isinstance(e, cf.process.BrokenProcessPool)
                        tries[i] += 1
                        if tries[i] < 2:
                            again.append(i)
                        else:
                            yield [failed_row(self.spec, self.cfg, jobs[i], e)], None
                        continue
                    yield rows, pending(self.cfg, jobs[i], state)
                if broken:  # a worker died: the pool is gone, every point in flight runs again
                    pool.shutdown(cancel_futures=True)
                    pool = new_pool()
                    again += list(futures.values())
                    futures = {}
                    doing.clear()
                futures |= {self._submit(pool, jobs[i], status): i for i in again}
        finally:
            pool.shutdown(cancel_futures=True)
            manager.shutdown()

    def _submit(self, pool: cf.ProcessPoolExecutor, job: Job, status: Any) -> cf.Future:
        return pool.submit(work, "installed", None, self.cfg.to_dict(), job, self.device, status)


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """For a ``host:port`` or ``ray://host:port`` address, a one-line ValueError when nothing
    answers there within ``timeout_s`` (Ray itself would keep retrying for minutes)."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # "local", "auto": Ray starts or finds the cluster itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise ValueError(f"cannot reach the Ray cluster at {address}: {e.strerror or e}; start "
                         "one (ray start --head) or use --ray local") from None


class RayRunner:
    """One Ray task per point on the cluster at ``address`` (``local``: start one here)."""

    def __init__(self, spec: Workload, cfg: SweepConfig, device: str, address: str,
                 named: bool) -> None:
        try:
            import ray
        except ImportError:
            raise ValueError("--ray needs Ray: pip install 'sparsegrain[distributed]'") from None
        self.ray, self.spec, self.cfg, self.device = ray, spec, cfg, device
        if not ray.is_initialized():
            check_reachable(address)
            kwargs = {"address": None if address == "local" else address,
                      "include_dashboard": False, "log_to_driver": False,
                      "configure_logging": False}
            if address == "local":
                # one worker process more than cores: the progress queue's actor holds one,
                # and at the default (one per core) Ray killed an idle point worker and
                # started a new one, imports and all, for most points
                kwargs["_system_config"] = {"num_workers_soft_limit": (os.cpu_count() or 1) + 1}
            try:
                ray.init(**kwargs)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise ValueError(f"cannot reach the Ray cluster at {address}: {e}") from None
        how, what = ship(spec, cfg, named)
        self.shipped = (how, ray.put(what))

    def run(self, jobs: list[Job], say: Callable[[str], None]) -> Iterator[Done]:
        ray = self.ray
        task = ray.remote(work).options(
            num_cpus=1, num_gpus=1 if self.device == "cuda" else 0, max_retries=1,
            retry_exceptions=True)
        from ray.util.queue import Queue
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        how, what = self.shipped
        # the progress queue is an actor: it must not hold a CPU that a point could use, and it
        # lives on the driver's node, so that losing a worker node loses no more than its points
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        status, doing = Queue(actor_options={"num_cpus": 0, "scheduling_strategy": here}), {}
        refs = {task.remote(how, what, self.cfg.to_dict(), job, self.device, status): i
                for i, job in enumerate(jobs)}
        try:
            while refs:
                ready, _ = ray.wait(list(refs), num_returns=1, timeout=0.5)
                say(progress(status, doing, f"busy Ray worker(s), {len(refs)} task(s) left"))
                for ref in ready:
                    i = refs.pop(ref)
                    try:
                        rows, state = ray.get(ref)
                    except Exception as e:  # noqa: BLE001 - Ray retried it once already
                        yield [failed_row(self.spec, self.cfg, jobs[i], e)], None
                        continue
                    yield rows, pending(self.cfg, jobs[i], state)
        finally:
            for ref in refs:  # interrupted: the points in flight are dropped
                ray.cancel(ref, force=True)
            status.shutdown()
