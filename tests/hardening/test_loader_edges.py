"""Loaders at their edges: ``simulate --activations`` files are read under the weight loader's
policy (declared sizes against the file and the memory, CRC-32s, no code run), and the peer
benchmark sizes itself against the memory available now."""

from __future__ import annotations

import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sparsegrain.benchmarking.peers import bench_peers
from sparsegrain.cli import app


@pytest.fixture
def weight(tmp_path: Path) -> Path:
    path = tmp_path / "w.npy"
    np.save(path, np.random.default_rng(0).standard_normal((32, 64)).astype(np.float32))
    return path


def simulate(weight: Path, activations: Path) -> str:
    """The output of ``simulate eie`` on ``weight`` and ``activations``, asserted to succeed."""
    r = CliRunner().invoke(app, ["simulate", "eie", "--weights", str(weight), "--activations",
                                 str(activations), "--json"])
    assert r.exit_code == 0, r.output
    return r.output


def refused(weight: Path, activations: Path) -> str:
    """The one ``error:`` line ``simulate`` gives for ``activations``, asserted to be just that."""
    r = CliRunner().invoke(app, ["simulate", "eie", "--weights", str(weight), "--activations",
                                 str(activations)])
    assert r.exit_code == 2, r.output
    assert r.output.startswith("error:") and r.output.count("\n") == 1, r.output
    assert "Traceback" not in r.output
    return r.output


def test_peer_benchmark_compares_with_the_memory_available(monkeypatch):
    monkeypatch.setattr("sparsegrain.core.arrays.available_memory", lambda: 2**30)
    with pytest.raises(ValueError, match=r"needs about 3\.5 GiB; 1\.0 GiB of memory is "
                                         "available now"):
        bench_peers((8192, 8192), ["unstructured"], 0.5, [1])


def test_activations_larger_than_the_memory_available_are_refused_before_reading(
        tmp_path, weight, monkeypatch):
    np.save(tmp_path / "a.npy", np.ones((200, 64), np.float32))  # 50 KiB; the weight 8 KiB
    monkeypatch.setattr("sparsegrain.core.arrays.available_memory", lambda: 16 * 2**10)
    assert "a.npy declares 0.0 MiB of arrays, more than the 0.0 MiB of memory available" in (
        refused(weight, tmp_path / "a.npy"))


def test_a_truncated_activation_file_is_named_truncated(tmp_path, weight):
    np.save(tmp_path / "a.npy", np.ones((4, 64), np.float32))
    data = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[:-100])
    assert "is truncated" in refused(weight, tmp_path / "cut.npy")


def test_a_damaged_activation_archive_fails_its_crc(tmp_path, weight):
    torch.save(torch.rand(64), tmp_path / "a.pt")
    data = bytearray((tmp_path / "a.pt").read_bytes())
    with zipfile.ZipFile(tmp_path / "a.pt") as z:
        info = next(i for i in z.infolist() if i.filename.endswith("/data/0"))
    name, extra = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    data[info.header_offset + 30 + name + extra + 8] ^= 0xFF  # a stored value, not its CRC
    (tmp_path / "bad.pt").write_bytes(bytes(data))
    assert "Bad CRC-32" in refused(weight, tmp_path / "bad.pt")


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_activation_files_that_would_run_code_are_refused(tmp_path, weight):
    torch.jit.save(torch.jit.script(torch.nn.Linear(64, 32)), tmp_path / "ts.pt")
    assert "TorchScript archive, which is not loaded because loading it runs its scripted code" \
        in refused(weight, tmp_path / "ts.pt")


@pytest.mark.parametrize("tensor, why", [
    (torch.ones(1).expand(2**20, 2**20), "GiB of memory to read"),
    (torch.empty(64, device="meta"), "meta tensor"),
    (torch.full((64,), float("nan")), "NaN or inf"),
    ({"a": torch.ones(64), "b": torch.ones(64)}, "2 tensors (a, b); give a file of one tensor"),
])
def test_activation_tensors_without_usable_values_are_refused(tmp_path, weight, tensor, why):
    torch.save(tensor, tmp_path / "a.pt")
    assert why in refused(weight, tmp_path / "a.pt")


@pytest.mark.parametrize("tensor", [
    torch.rand(64).to_sparse(),
    torch.rand(64, dtype=torch.bfloat16),
    torch.rand(3, 64, dtype=torch.float16),
    {"x": torch.rand(64)},
])
def test_any_float_activation_tensor_is_read(tmp_path, weight, tensor):
    torch.save(tensor, tmp_path / "a.pt")
    assert '"cycles"' in simulate(weight, tmp_path / "a.pt")


def test_raw_and_text_activation_files_are_checked(tmp_path, weight):
    (tmp_path / "odd.dat").write_bytes(b"\0" * 255)
    assert "255 bytes, not a whole number of 4-byte float32 values" in refused(
        weight, tmp_path / "odd.dat")
    (tmp_path / "empty.txt").write_text("")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        refused(weight, tmp_path / "empty.txt")
    assert not [w for w in seen if "loadtxt" in str(w.message)]
    np.savetxt(tmp_path / "a.csv", np.ones((2, 64)), delimiter=",")
    assert '"cycles"' in simulate(weight, tmp_path / "a.csv")
