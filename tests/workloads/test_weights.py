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
    torch.save({"fc.weight": w}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    np.save(tmp_path / "big_endian.npy", w.numpy().astype(">f4"))
    np.savez_compressed(tmp_path / "compressed.npz", layer=w.numpy())
    for name in ("a.pt", "b.npy", "c.npz", "d.safetensors", "legacy.pt", "big_endian.npy",
                 "compressed.npz"):
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
    with pytest.raises(ValueError, match="cannot read tensors"):
        load_weights(tmp_path / "junk.pt")
    (tmp_path / "x.txt").write_text("1 2 3")
    with pytest.raises(ValueError, match="unknown weight file type"):
        load_weights(tmp_path / "x.txt")
    with pytest.raises(ValueError, match="no 2-D"):
        load_weights("minilm", "no-such-layer")


def test_checkpoints_and_model_folders_give_their_weights(tmp_path):
    import torch
    from torch import nn

    from sparsegrain.workloads import load_weights

    m = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    want = {"0.weight": m[0].weight, "2.weight": m[2].weight}
    torch.save({"epoch": 3, "model_state_dict": m.state_dict(), "lr": 0.1}, tmp_path / "ck.pt")
    (tmp_path / "hf").mkdir()
    torch.save(m.state_dict(), tmp_path / "hf" / "pytorch_model.bin")
    for source in ("ck.pt", "hf"):
        got = load_weights(tmp_path / source)
        assert set(got) == set(want) and all(torch.equal(got[k], want[k]) for k in want), source


def test_a_whole_pickled_model_is_refused_with_how_to_save_its_weights(tmp_path):
    import pytest
    import torch
    from torch import nn

    from sparsegrain.workloads import load_weights

    torch.save(nn.Linear(4, 4), tmp_path / "whole.pt")
    with pytest.raises(ValueError, match=r"torch\.save\(model\.state_dict\(\), path\)"):
        load_weights(tmp_path / "whole.pt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="folder without model.safetensors or pytorch_model.bin"):
        load_weights(tmp_path / "empty")
