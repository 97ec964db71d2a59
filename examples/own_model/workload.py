"""Your own model in a sparsegrain sweep.

A small CNN on scikit-learn's 8x8 handwritten digits, written as any PyTorch user would write
it, is handed to sparsegrain as a plain ``sparsegrain.Workload``: the trained model, how to
evaluate it, sample inputs, and (optionally) how to fine-tune it. Run the whole trade-off with

    sparsegrain tradeoff --model examples/own_model/workload.py:workload --out results/own

Training takes a few seconds on a CPU, with fixed seeds so that every run gets the same model.
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

import sparsegrain as sg


class TinyNet(nn.Module):
    """conv 1->8, pool, conv 8->16, pool, fc 64->64, fc 64->10."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc1 = nn.Linear(64, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


def digits() -> tuple[torch.Tensor, ...]:
    """Train and test images (N, 1, 8, 8) in [0, 1] and their labels; 400 held out."""
    d = load_digits()
    x = torch.tensor(d.images[:, None] / 16.0, dtype=torch.float32)
    y = torch.tensor(d.target)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=400, stratify=y, random_state=0)
    return x_tr, y_tr, x_te, y_te


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float,
          callback=None) -> None:
    """Adam on random minibatches of 64; ``callback(step)`` after every step (sparsegrain's
    pruner updates its masks there)."""
    g = torch.Generator().manual_seed(1)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    dev = next(model.parameters()).device  # `--device cuda` hands the model over on the GPU
    model.train()
    for step in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=g)
        loss = nn.functional.cross_entropy(model(x[idx].to(dev)), y[idx].to(dev))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if callback is not None:
            callback(step)
    model.eval()


def workload() -> sg.Workload:
    """The trained TinyNet as a sparsegrain Workload."""
    x_tr, y_tr, x_te, y_te = digits()
    torch.manual_seed(0)
    model = TinyNet()
    train(model, x_tr, y_tr, steps=800, lr=3e-3)

    def evaluate(m: nn.Module) -> dict[str, float]:
        dev = next(m.parameters()).device
        logits = m(x_te.to(dev))
        y = y_te.to(dev)
        return {"accuracy": (logits.argmax(1) == y).float().mean().item(),
                "loss": nn.functional.cross_entropy(logits, y).item()}

    return sg.Workload(
        model=model,
        evaluate=evaluate,
        sample_inputs=x_te[:64],
        finetune=lambda m, steps, callback: train(m, x_tr, y_tr, steps, 5e-4, callback),
        name="tinynet-digits",
        finetune_steps=200,
    )
