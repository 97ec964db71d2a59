"""The Workload object and how users name one: checks, metrics, layers, hashes, references."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import sparsegrain as sg
from sparsegrain.workloads import load_workload


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                         nn.Linear(16, 4))


def make(**kw) -> sg.Workload:
    return sg.Workload(**{"model": net(), "evaluate": lambda m: 0.5,
                          "sample_inputs": torch.randn(4, 8), **kw})


def test_a_number_or_a_dict_is_the_metric_and_anything_else_is_refused():
    assert make().measure(net()) == ("accuracy", {"accuracy": 0.5})
    w = make(evaluate=lambda m: {"f1": 0.7, "loss": 1.2})
    assert w.measure(net()) == ("f1", {"f1": 0.7, "loss": 1.2})
    with pytest.raises(ValueError, match="return a number or a dict of numbers"):
        make(evaluate=lambda m: "good").measure(net())
    with pytest.raises(ValueError, match="no finite headline metric"):
        make(evaluate=lambda m: float("nan")).measure(net())


def test_layers_default_to_all_but_first_and_last_and_globs_must_match():
    assert make().layers(net()) == ["2"]
    assert make(prunable=["*"]).layers(net()) == ["0", "2", "4"]
    with pytest.raises(ValueError,
                       match=r"prunable entry 'encoder\.\*' matches no Linear, Conv, LSTM or GRU"):
        make(prunable=["encoder.*"]).layers(net())


def test_the_weights_hash_follows_weights_and_version():
    a, b = make(), make()
    assert a.weights_hash() == b.weights_hash()
    assert make(version=2).weights_hash() != a.weights_hash()
    with torch.no_grad():
        b.model[2].weight[0, 0] += 1e-3
    assert b.weights_hash() != a.weights_hash()


def test_bad_workloads_and_references_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="must be a torch.nn.Module"):
        sg.Workload(model="net", evaluate=lambda m: 1, sample_inputs=None)
    with pytest.raises(ValueError, match="prunable must be a list"):
        make(prunable="fc1")
    f = tmp_path / "mine.py"
    f.write_text("import sparsegrain as sg\nx = 3\ndef boom():\n    raise RuntimeError('no data')\n")
    with pytest.raises(ValueError, match="is a int, not a sparsegrain.Workload"):
        load_workload(f"{f}:x")
    with pytest.raises(ValueError, match=r"boom\(\) failed: RuntimeError: no data"):
        load_workload(f"{f}:boom")
    with pytest.raises(ValueError, match="defines no 'y'"):
        load_workload(f"{f}:y")
    with pytest.raises(ValueError, match="does not exist"):
        load_workload(f"{tmp_path / 'none.py'}:w")
    with pytest.raises(ValueError, match="cannot import module 'no_such_pkg.mod'"):
        load_workload("no_such_pkg.mod:w")
    with pytest.raises(ValueError, match="unknown model 'nope'; valid: .*digits-cnn"):
        load_workload("nope")


def test_a_module_reference_and_a_builtin_name_give_workloads(tmp_path, monkeypatch):
    (tmp_path / "userpkg.py").write_text(
        "import torch, sparsegrain as sg\n"
        "W = sg.Workload(model=torch.nn.Linear(2, 2), evaluate=lambda m: 1.0, sample_inputs=torch.ones(1, 2))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert isinstance(load_workload("userpkg:W"), sg.Workload)
    built_in = load_workload("digits-cnn")
    assert built_in.name == "digits-cnn" and built_in.layers(built_in.model) == ["conv2", "conv3", "fc1"]
