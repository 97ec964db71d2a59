"""Every command that writes into a folder holds its lock; machine parameters must be finite."""

from __future__ import annotations

import math

import pytest

from sparsegrain.core.files import FolderLock
from sparsegrain.experiments.sensitivity import scan
from sparsegrain.hardware import build
from sparsegrain.report.sensitivity import write


def test_sensitivity_refuses_a_folder_in_use(tmp_path):
    result = scan("digits-cnn", "unstructured", "0.5", ["conv2"])
    with FolderLock(tmp_path, "sparsegrain tradeoff"):
        with pytest.raises(ValueError, match="in use by sparsegrain tradeoff"):
            write(result, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert set(write(result, tmp_path)) >= {"md", "json"}


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1j])
def test_machine_parameters_must_be_finite_numbers(value):
    with pytest.raises(ValueError, match="clock_hz=.* is not a finite real number"):
        build("eie", clock_hz=value)
    assert build("eie", clock_hz=1e9) is not None


def test_a_model_cache_that_cannot_be_written_is_a_warning(tmp_path, monkeypatch):
    import torch

    from sparsegrain.core import files
    from sparsegrain.workloads.models import save_atomic

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.warns(UserWarning, match="model cache was not written .*No space left"):
        save_atomic({"w": torch.ones(2)}, tmp_path / "model.pt")
    assert list(tmp_path.iterdir()) == []
