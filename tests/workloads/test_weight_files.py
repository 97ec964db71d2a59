"""Weight files that are hostile, damaged or too large: refused with one clear line, before any
code runs or any memory is taken."""

import json
import zipfile

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn
from typer.testing import CliRunner

from sparsegrain.benchmarking.bench import bench
from sparsegrain.cli import app
from sparsegrain.patterns.inspect import inspect_layer
from sparsegrain.studies.csp import check_chunk, csp
from sparsegrain.workloads import load_weights


class FileWriter(nn.Module):
    """A module whose scripted ``__setstate__`` creates the file it names when it is loaded."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(4, 4))
        self.path = path
        self.side = torch.zeros(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight

    @torch.jit.export
    def __getstate__(self) -> tuple[torch.Tensor, str, bool]:
        return (self.weight, self.path, self.training)

    @torch.jit.export
    def __setstate__(self, state: tuple[torch.Tensor, str, bool]) -> None:
        self.weight = state[0]
        self.path = state[1]
        self.training = state[2]
        self.side = torch.from_file(state[1], True, 4).fill_(1.0)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", ["ts.pt", "ts.pth", "ts.bin", "hf/pytorch_model.bin"])
def test_a_torchscript_archive_is_refused_without_running_its_code(tmp_path, name):
    marker = tmp_path / "written-on-load"
    archive = tmp_path / name
    archive.parent.mkdir(exist_ok=True)
    torch.jit.script(FileWriter(str(marker))).save(str(archive))
    source = archive.parent if name.startswith("hf/") else archive
    refused = r"TorchScript.*torch\.save\(model\.state_dict\(\), path\)"
    with pytest.raises(ValueError, match=refused):
        load_weights(source)
    assert not marker.exists()
    torch.jit.load(str(archive))  # the archive does run code when TorchScript loads it
    assert marker.exists()


def _flip_in(path, data: bytes) -> None:
    """Overwrite the middle 4 bytes of ``data`` where the file holds it with 0xFF."""
    raw = bytearray(path.read_bytes())
    at = raw.find(data) + len(data) // 2
    assert at >= len(data) // 2
    raw[at:at + 4] = b"\xff" * 4
    path.write_bytes(bytes(raw))


def _write(kind: str, path, w: torch.Tensor) -> None:
    if kind == "pt":
        torch.save({"fc.weight": w}, path)
    elif kind == "npy":
        np.save(path, w.numpy())
    elif kind == "npz":
        np.savez(path, fc=w.numpy())
    else:
        save_file({"fc.weight": w}, str(path))


KINDS = ("pt", "npy", "npz", "safetensors")


@pytest.mark.parametrize("kind", KINDS)
def test_flipped_data_bytes_are_refused(tmp_path, kind):
    w = torch.arange(1.0, 257.0).reshape(16, 16)
    path = tmp_path / f"w.{kind}"
    _write(kind, path, w)
    _flip_in(path, w.numpy().tobytes())
    # zips (.pt, .npz) fail their CRC-32; the others read 0xFFFFFFFF, a NaN
    why = "corrupt.*CRC" if kind in ("pt", "npz") else r"'(fc\.weight|w)' holds 1 NaN or inf"
    with pytest.raises(ValueError, match=why):
        load_weights(path)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_weights_holding_nan_or_inf_are_refused_by_name(tmp_path, kind, bad):
    w = torch.randn(8, 8)
    w[3, 5] = bad
    path = tmp_path / f"w.{kind}"
    _write(kind, path, w)
    with pytest.raises(ValueError, match=r"'(fc\.weight|fc|w)' holds 1 NaN or inf value\(s\) of "
                                         "64"):
        load_weights(path)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_truncated_files_are_refused(tmp_path, kind, keep):
    path = tmp_path / f"w.{kind}"
    _write(kind, path, torch.randn(64, 64))
    raw = path.read_bytes()
    path.write_bytes(raw[:int(len(raw) * keep)])
    with pytest.raises(ValueError, match="truncated") as e:
        load_weights(path)
    assert "\n" not in str(e.value)


def _npy_header(shape: tuple[int, ...], dtype: str) -> bytes:
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    text = repr(header).encode("latin1")
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text


def test_a_small_npz_declaring_a_huge_array_is_refused_before_reading(tmp_path):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("w.npy", "w", force_zip64=True) as f:
            f.write(_npy_header((2**20, 2**20), "<f8") + bytes(4096))
        z.infolist()[0].file_size = 2**43 + 128  # what the archive declares, not what it holds
    assert path.stat().st_size < 2**16
    with pytest.raises(ValueError, match=r"declares 8192\.0 GiB of arrays, more than the "
                                         r"[\d.]+ [GM]iB of memory available"):
        load_weights(path)


def test_a_small_npy_declaring_a_huge_array_is_refused_as_truncated(tmp_path):
    path = tmp_path / "w.npy"
    path.write_bytes(_npy_header((2**20, 2**20), "<f4") + bytes(64))
    with pytest.raises(ValueError, match="truncated: its header declares 4,398,046,511,104 bytes"):
        load_weights(path)


def test_a_safetensors_header_past_the_end_is_refused(tmp_path):
    header = json.dumps({"w": {"dtype": "F32", "shape": [2**20, 2**20],
                               "data_offsets": [0, 2**42]}}).encode()
    path = tmp_path / "w.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + bytes(64))
    with pytest.raises(ValueError, match="truncated: its header places data up to byte"):
        load_weights(path)


def test_sparse_and_quantized_weights_are_made_dense_float(tmp_path):
    w = torch.randn(8, 8)
    q = torch.quantize_per_tensor(w, 0.1, 0, torch.qint8)
    torch.save({"coo.weight": w.to_sparse(), "csr.weight": w.to_sparse_csr(), "q.weight": q},
               tmp_path / "w.pt")
    got = load_weights(tmp_path / "w.pt")
    assert torch.equal(got["coo.weight"], w) and torch.equal(got["csr.weight"], w)
    assert torch.equal(got["q.weight"], q.dequantize())
    assert all(t.layout == torch.strided and t.dtype == torch.float32 for t in got.values())


def test_inspect_layer_refuses_tensors_without_dense_data():
    w = torch.randn(8, 8)
    for t, kind in ((w.to_sparse(), "sparse_coo"), (torch.empty(8, 8, device="meta"), "meta")):
        with pytest.raises(ValueError, match=f"fc: a {kind} tensor"):
            inspect_layer("fc", t, "unstructured", 0.5)


def test_sparse_indices_out_of_bounds_are_refused(tmp_path):
    outside = torch.tensor([[0, 10**9], [0, 10**9]])
    w = torch.sparse_coo_tensor(outside, torch.ones(2), (8, 8), check_invariants=False)
    torch.save({"fc.weight": w}, tmp_path / "w.pt")
    with pytest.raises(ValueError, match="cannot read tensors .*size is inconsistent with indices"):
        load_weights(tmp_path / "w.pt")


def test_meta_and_oversized_views_are_refused(tmp_path):
    torch.save({"fc.weight": torch.empty(8, 8, device="meta")}, tmp_path / "meta.pt")
    with pytest.raises(ValueError, match="'fc.weight' is a meta tensor, which holds no data"):
        load_weights(tmp_path / "meta.pt")
    huge = torch.sparse_coo_tensor(torch.zeros(2, 1, dtype=torch.long), torch.ones(1),
                                   (2**20, 2**20))
    torch.save({"fc.weight": huge}, tmp_path / "sparse.pt")
    torch.save({"fc.weight": torch.ones(1).expand(2**20, 2**20)}, tmp_path / "view.pt")
    for name in ("sparse.pt", "view.pt"):
        assert (tmp_path / name).stat().st_size < 2**16
        with pytest.raises(ValueError, match=r"dense float32 takes 4096\.0 GiB more memory"):
            load_weights(tmp_path / name)


def test_inspect_gives_one_error_line_for_every_bad_file(tmp_path):
    w = torch.randn(16, 16)
    torch.jit.script(FileWriter(str(tmp_path / "marker"))).save(str(tmp_path / "ts.pt"))
    w[0, 0] = float("nan")
    save_file({"fc.weight": w}, str(tmp_path / "nan.safetensors"))
    torch.save({"fc.weight": torch.ones(1).expand(2**20, 2**20)}, tmp_path / "view.pt")
    torch.save({"fc.weight": torch.empty(8, 8, device="meta")}, tmp_path / "meta.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "view.pt").read_bytes()[:300])
    runner = CliRunner()
    for name in ("ts.pt", "nan.safetensors", "view.pt", "meta.pt", "cut.pt"):
        r = runner.invoke(app, ["inspect", str(tmp_path / name), "-p", "unstructured",
                                "-s", "0.5"])
        assert r.exit_code == 2 and r.output.startswith("error:"), (name, r.output)
        assert r.output.count("\n") == 1 and "Traceback" not in r.output, (name, r.output)
    torch.save({"fc.weight": torch.randn(8, 8).to_sparse()}, tmp_path / "sparse.pt")
    r = runner.invoke(app, ["inspect", str(tmp_path / "sparse.pt"), "-p", "unstructured",
                            "-s", "0.5", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)[0]["achieved"] == 0.5, r.output


def test_csp_chunk_is_bounded_by_the_csph_accumulators():
    check_chunk(1)
    check_chunk(2048)
    for chunk in (0, 2049, 1_000_000):
        with pytest.raises(ValueError, match=rf"chunk must be 1 to 2048 .* got {chunk}"):
            csp(quick=True, chunk=chunk)


def test_bench_compares_with_the_memory_available(monkeypatch):
    monkeypatch.setattr("sparsegrain.core.arrays.available_memory", lambda: 2**30)
    with pytest.raises(ValueError, match=r"needs about 1\.8 GiB .*; 1\.0 GiB of memory is "
                                         "available now"):
        bench((8192, 8192), "unstructured", 0.5, [1])
