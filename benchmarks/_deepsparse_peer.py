"""DeepSparse as a peer engine, run in its own virtual environment (DeepSparse 1.8.0 pins its
own numpy and onnx, so it cannot share the project's): a child process compiles the ONNX model
once, then times calls whenever the benchmark asks, so that its rounds interleave with the other
engines' without a compile per round.

    python -m venv /tmp/ds && /tmp/ds/bin/pip install deepsparse==1.8.0
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

CHILD = """
import sys, time
import numpy as np
from deepsparse import Engine
model, batch, cores, *inputs = sys.argv[1:]
x = [np.load(p) for p in inputs]
engine = Engine(model=model, batch_size=int(batch), num_cores=int(cores))
for _ in range(3):
    engine(x)
print("ready", flush=True)
for line in sys.stdin:
    word, arg = line.split()
    if word == "time":
        times = []
        for _ in range(int(arg)):
            t = time.perf_counter(); engine(x); times.append(time.perf_counter() - t)
        print("ms", sorted(times)[len(times) // 2] * 1e3, flush=True)
    else:
        np.save(arg, engine(x)[0])
        print("saved", flush=True)
"""


class DeepSparse:
    """A DeepSparse engine on ``onnx_path`` fed ``inputs`` (in the graph's input order), in the
    venv whose python is ``python``: :meth:`ms` times ``calls`` calls and gives their median,
    :meth:`output` the first output."""

    def __init__(self, python: str, onnx_path: str, inputs: list[np.ndarray], batch: int,
                 threads: int) -> None:
        self._dir = tempfile.TemporaryDirectory()
        paths = []
        for i, a in enumerate(inputs):
            paths.append(str(Path(self._dir.name) / f"in{i}.npy"))
            np.save(paths[-1], a)
        self._child = subprocess.Popen(
            [python, "-c", CHILD, onnx_path, str(batch), str(threads), *paths],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._read("ready")

    def _read(self, expect: str | None = None) -> str:
        assert self._child.stdout is not None
        while True:
            line = self._child.stdout.readline()
            if not line:
                err = self._child.stderr.read() if self._child.stderr else ""
                raise RuntimeError(f"deepsparse stopped: {err.strip().splitlines()[-1:]}")
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
