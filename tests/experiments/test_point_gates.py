"""A recurrent layer's gate matrices as the machines take them: apart, or stacked for EIE."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from sparsegrain.experiments.point import (
    capture_inputs,
    measure_accelerator,
    pruned_layers,
    stacked_gates,
)
from sparsegrain.hardware.machines import Machine


def _lstm_layers() -> tuple[nn.Module, dict, dict]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.LSTM(12, 16, bidirectional=True, batch_first=True))
    masks = {}
    for name, p in model.named_parameters():
        if name.startswith("0.weight_"):
            keep = torch.rand_like(p) > 0.7
            with torch.no_grad():
                p.mul_(keep)
            masks[name] = keep
    layers = pruned_layers(model, ["0"], masks)
    acts = capture_inputs(model, ["0"], (torch.randn(2, 5, 12),), 2)
    return model, layers, acts


def test_gate_matrices_stack_with_their_joined_inputs() -> None:
    model, layers, acts = _lstm_layers()
    assert set(layers) == {f"0.weight_{k}_l0{d}" for k in ("ih", "hh") for d in ("", "_reverse")}
    joined, rows = stacked_gates(layers, acts)
    assert set(joined) == {"0.weight_l0", "0.weight_l0_reverse"}
    for d in ("", "_reverse"):
        w = joined[f"0.weight_l0{d}"]
        assert w.weight.shape == (64, 12 + 16) and w.mask.shape == w.weight.shape
        torch.testing.assert_close(w.weight, torch.cat([layers[f"0.weight_ih_l0{d}"].weight,
                                                        layers[f"0.weight_hh_l0{d}"].weight], 1))
        x = rows[f"0.weight_l0{d}"]
        assert x.shape == (2, 5, 28)
        # one product of the stacked matrix is the two gate products summed, step by step
        ih = acts[f"0.weight_ih_l0{d}"] @ layers[f"0.weight_ih_l0{d}"].weight.T
        hh = acts[f"0.weight_hh_l0{d}"] @ layers[f"0.weight_hh_l0{d}"].weight.T
        torch.testing.assert_close(x @ w.weight.T, ih + hh)


def test_eie_runs_the_stacked_matrices_and_other_machines_the_gates_apart() -> None:
    _, layers, acts = _lstm_layers()
    status, eie = measure_accelerator(Machine("eie", "eie", {"n_pe": 4}), layers, acts)
    assert status == "ok" and set(eie["layers"]) == {"0.weight_l0", "0.weight_l0_reverse"}
    status, gs = measure_accelerator(Machine("systolic", "systolic"), layers, acts)
    assert status == "ok" and len(gs["layers"]) == 4
    assert np.isfinite(eie["cycles"]) and eie["cycles"] > 0
