import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from sparsegrain.workloads import load_weights


def test_reads_every_file_type(tmp_path):
    w = torch.randn(8, 4)
    torch.save({"fc.weight": w, "fc.bias": torch.zeros(8)}, tmp_path / "a.pt")
    np.save(tmp_path / "b.npy", w.numpy())
    np.savez(tmp_path / "c.npz", layer=w.numpy())
    save_file({"fc.weight": w}, str(tmp_path / "d.safetensors"))
    for name in ("a.pt", "b.npy", "c.npz", "d.safetensors"):
        got = load_weights(tmp_path / name)
        assert len(got) == 1 and torch.equal(next(iter(got.values())), w)


def test_minilm_layers_load_offline_and_filter():
    got = load_weights("minilm:layer.0.intermediate")
    assert list(got) == ["encoder.layer.0.intermediate.dense.weight"]
    assert got["encoder.layer.0.intermediate.dense.weight"].shape == (1536, 384)


def test_catalog_network_gives_seeded_weights():
    a = load_weights("resnet50", "layer1.0.conv2")
    b = load_weights("resnet50", "layer1.0.conv2")
    assert torch.equal(a["layer1.0.conv2"], b["layer1.0.conv2"])


def test_bad_sources_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="no weight file or model"):
        load_weights(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="cannot read weights"):
        load_weights(tmp_path / "junk.pt")
    (tmp_path / "x.txt").write_text("1 2 3")
    with pytest.raises(ValueError, match="unknown weight file type"):
        load_weights(tmp_path / "x.txt")
    with pytest.raises(ValueError, match="no 2-D"):
        load_weights("minilm", "no-such-layer")
