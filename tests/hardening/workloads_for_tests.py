"""Small user workloads for the hardening tests: a Conv1d + BatchNorm model on synthetic
sequences, and variants whose user code misbehaves in one way each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

import sparsegrain as sg


class BatchNormNet(nn.Module):
    """Conv1d + BatchNorm stack: 0-dim integer buffers, a non-persistent buffer, a shared
    parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(1, 8, 5, padding=2)
        self.bn1 = nn.BatchNorm1d(8)
        self.conv2 = nn.Conv1d(8, 16, 5, padding=2)
        self.bn2 = nn.BatchNorm1d(16)
        self.fc1 = nn.Linear(16 * 16, 32)
        self.fc2 = nn.Linear(32, 32)
        self.head = nn.Linear(32, 3)
        self.fc2_twin = self.fc2  # shared between two names
        self.register_buffer("scale", torch.tensor(1.0), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x))).flatten(1) * self.scale
        return self.head(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


def data(seed: int = 0, n: int = 96) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    t = torch.linspace(0, 6.28, 16)
    x = torch.sin(t[None, :] * (y[:, None] + 1)) + 0.3 * torch.randn(n, 16, generator=g)
    return x[:, None, :], y


def finetune_fn(x: torch.Tensor, y: torch.Tensor, calls: bool = True
                ) -> Callable[[nn.Module, int, Any], None]:
    def finetune(model: nn.Module, steps: int, callback: Any) -> None:
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        model.train()
        for step in range(steps):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
            if callback is not None and calls:
                callback(step)
        model.eval()

    return finetune


def accuracy_fn(x: torch.Tensor, y: torch.Tensor) -> Callable[[nn.Module], float]:
    def evaluate(model: nn.Module) -> float:
        return float((model(x).argmax(1) == y).float().mean())

    return evaluate


def batchnorm_workload(**changes: Any) -> sg.Workload:
    """The BatchNorm model trained a few steps, seeded; ``changes`` replace Workload fields."""
    torch.manual_seed(0)
    x, y = data()
    model = BatchNormNet()
    finetune_fn(x, y)(model, 30, None)
    fields = dict(model=model, evaluate=accuracy_fn(x, y), sample_inputs=x[:4],
                  finetune=finetune_fn(x, y), name="bn-net", finetune_steps=6,
                  prunable=["conv2", "fc1", "fc2"])
    return sg.Workload(**{**fields, **changes})


def unseeded() -> sg.Workload:
    """Trained from an unseeded start: every process that builds it gets other weights."""
    x, y = data()
    model = BatchNormNet()
    finetune_fn(x, y)(model, 5, None)
    return sg.Workload(model, accuracy_fn(x, y), x[:4], finetune=finetune_fn(x, y),
                       name="unseeded", finetune_steps=6, prunable=["conv2", "fc1"])


def exiting() -> sg.Workload:
    """A workload whose evaluation ends the process, as a script's ``sys.exit`` would."""
    import sys

    return batchnorm_workload(evaluate=lambda model: sys.exit(0))
