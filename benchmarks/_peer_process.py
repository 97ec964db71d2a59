"""Peer engines in child processes: DeepSparse (in its own virtual environment: DeepSparse 1.8.0
pins its own numpy and onnx, so it cannot share the project's) and onnxruntime. A child compiles
the ONNX model once, then times calls whenever the benchmark asks, so that its rounds interleave
with the other engines' without a compile per round; and nothing it does to its own process
(onnxruntime's allocations left the benchmark's process page-faulting 2,000-21,000 times a MiniLM
forward afterwards, against none before, 10-40 % slower) reaches another engine.

    python -m venv /tmp/ds && /tmp/ds/bin/pip install deepsparse==1.8.0
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

#: the statements that make ``run()`` (one call on the inputs ``x``) for each engine, given
#: ``model`` (the ONNX path), ``batch``, ``cores`` and ``spin``
ENGINES = {
    "deepsparse": """
from deepsparse import Engine
engine = Engine(model=model, batch_size=batch, num_cores=cores)
run = lambda: engine(x)
""",
    "onnxruntime": """
import onnxruntime as ort
options = ort.SessionOptions()
options.intra_op_num_threads = cores
options.add_session_config_entry("session.intra_op.allow_spinning", spin)
session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
feeds = {i.name: a for i, a in zip(session.get_inputs(), x)}
run = lambda: session.run(None, feeds)
""",
}

CHILD = """
import sys, time
import numpy as np
model, batch, cores, spin, *inputs = sys.argv[1:]
batch, cores = int(batch), int(cores)
x = [np.load(p) for p in inputs]
{engine}
for _ in range(3):
    run()
print("ready", flush=True)
for line in sys.stdin:
    word, arg = line.split()
    if word == "time":
        times = []
        for _ in range(int(arg)):
            t = time.perf_counter(); run(); times.append(time.perf_counter() - t)
        print("ms", sorted(times)[len(times) // 2] * 1e3, flush=True)
    else:
        np.save(arg, run()[0])
        print("saved", flush=True)
"""


class PeerProcess:
    """Engine ``engine`` (a key of :data:`ENGINES`) on ``onnx_path`` fed ``inputs`` (in the
    graph's input order), in a child run by ``python``: :meth:`ms` times ``calls`` calls and
    gives their median, :meth:`output` the first output."""

    def __init__(self, engine: str, python: str, onnx_path: str, inputs: list[np.ndarray],
                 batch: int, threads: int, spin: str = "1") -> None:
        self._dir = tempfile.TemporaryDirectory()
        paths = []
        for i, a in enumerate(inputs):
            paths.append(str(Path(self._dir.name) / f"in{i}.npy"))
            np.save(paths[-1], a)
        self._child = subprocess.Popen(
            [python, "-c", CHILD.format(engine=ENGINES[engine]), onnx_path, str(batch),
             str(threads), spin, *paths],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._read("ready")

    def _read(self, expect: str | None = None) -> str:
        assert self._child.stdout is not None
        while True:
            line = self._child.stdout.readline()
            if not line:
                err = self._child.stderr.read() if self._child.stderr else ""
                raise RuntimeError(f"peer engine stopped: {err.strip().splitlines()[-1:]}")
            if expect is None or line.startswith(expect):
                return line.strip()

    def _ask(self, word: str, arg: str, expect: str) -> str:
        assert self._child.stdin is not None
        self._child.stdin.write(f"{word} {arg}\n")
        self._child.stdin.flush()
        return self._read(expect)

    def ms(self, calls: int = 15) -> float:
        return float(self._ask("time", str(calls), "ms ").split()[1])

    def output(self) -> np.ndarray:
        path = str(Path(self._dir.name) / "out.npy")
        self._ask("save", path, "saved")
        return np.load(path)

    def close(self) -> None:
        if self._child.stdin is not None:
            self._child.stdin.close()
        self._child.wait(timeout=60)
        self._dir.cleanup()


def DeepSparse(python: str, onnx_path: str, inputs: list[np.ndarray], batch: int,  # noqa: N802
               threads: int) -> PeerProcess:
    """DeepSparse in the venv whose python is ``python``."""
    return PeerProcess("deepsparse", python, onnx_path, inputs, batch, threads)


def OnnxRuntime(onnx_path: str, inputs: list[np.ndarray], batch: int, threads: int,  # noqa: N802
                spin: str) -> PeerProcess:
    """onnxruntime in this interpreter's environment, thread spinning ``spin`` ("1" or "0")."""
    return PeerProcess("onnxruntime", sys.executable, onnx_path, inputs, batch, threads, spin)
