"""Recurrent and 1-D convolutional layers in every stage of the sweep: their gate matrices get
format, machine and measured-CPU rows, and the report says which share of the weights is
measured."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import sparsegrain as sg
from sparsegrain.experiments import Pruning, SweepConfig, run_sweep
from sparsegrain.experiments.store import STORE_NAME, ResultStore

pytestmark = pytest.mark.slow


class ConvGRU(nn.Module):
    """A Conv1d front end and a bidirectional GRU over its output, a Linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv0 = nn.Conv1d(1, 8, 5, padding=2)
        self.conv1 = nn.Conv1d(8, 16, 5, padding=2)
        self.gru = nn.GRU(16, 16, bidirectional=True, batch_first=True)
        self.head = nn.Linear(32, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv1(torch.relu(self.conv0(x))))
        return self.head(self.gru(h.transpose(1, 2))[0][:, -1])


def workload() -> sg.Workload:
    torch.manual_seed(0)
    x = torch.randn(32, 1, 24)
    y = (x.mean(dim=(1, 2)) > 0).long() + (x.std(dim=(1, 2)) > 1).long()
    model = ConvGRU().eval()

    def evaluate(m: nn.Module) -> float:
        return float((m(x).argmax(1) == y).float().mean())

    return sg.Workload(model, evaluate, x[:4], prunable=["conv1", "gru"], name="conv-gru")


def rows(out):
    with ResultStore(out / STORE_NAME, readonly=True) as store:
        return store.rows()


def test_a_gru_and_a_conv1d_get_format_machine_and_cpu_rows(tmp_path):
    cfg = SweepConfig(model="conv-gru", patterns=("unstructured",), sparsities=(0.6,),
                      accelerators=("eie", "systolic"), formats=("csr",),
                      pruning=Pruning(steps=0), cpu_batch=4)
    run_sweep(cfg, tmp_path, workload=workload())
    got = {(r.pattern, r.kind, r.target): r for r in rows(tmp_path)}
    gates = {f"gru.weight_{k}_l0{s}" for k in ("ih", "hh") for s in ("", "_reverse")}
    point = got["unstructured", "accuracy", ""].result
    assert set(point["layer_sparsity"]) == {"conv1", *gates}
    assert all(abs(v - 0.6) < 0.02 for v in point["layer_sparsity"].values())
    model = workload().model
    held = model.conv1.weight.numel() + sum(getattr(model.gru, g.removeprefix("gru.")).numel()
                                            for g in gates)
    assert point["measured_share"] == pytest.approx(
        held / sum(p.numel() for p in model.parameters() if p.dim() >= 2))
    fmt = got["unstructured", "format", "csr"]
    assert fmt.status == "ok" and set(fmt.result["layers"]) == {"conv1", *gates}
    # EIE runs each direction's [W_ih W_hh] stacked (as its paper ran NT-LSTM), the others apart
    stacked = {"gru.weight_l0", "gru.weight_l0_reverse"}
    for machine, measured in (("eie", stacked), ("systolic", gates)):
        sim = got["unstructured", "accelerator", machine]
        assert sim.status == "ok", sim.result
        assert measured <= set(sim.result["layers"]) | set(sim.result["rejected"])
    cpu = got["unstructured", "cpu", "cpu"]
    assert cpu.status == "ok", cpu.result
    assert {"conv1", *gates} <= set(cpu.result["layers"])
