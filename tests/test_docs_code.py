"""Every ```python block of README.md and docs/*.md runs, so the documented examples keep
matching the API.

The blocks of one file run in order in one namespace, fresh for each file, as a reader runs
them (a later block may use what an earlier one built: the model that ``sparsify`` changed is
the one ``save`` writes); the current folder is a temporary one. Blocks that are fragments on
purpose (they use names the prose defines, such as ``weight`` or ``model``) get them from their
file's entry in :data:`SETUP`: a function that builds small real objects for those names (a
random weight pruned to the block's pattern, a tiny model, a few batches). A block that needs a
name no entry gives fails with a NameError; give the name in its file's setup rather than
leaving the block out. A failure's traceback names the file and its line in the markdown.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from sparsegrain.deploy import sparsify
from sparsegrain.patterns import pattern

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def pruned(shape: tuple[int, ...], spec: str, sparsity: float = 0.9) -> torch.Tensor:
    """A seeded random weight of ``shape`` with the mask of pattern ``spec`` applied."""
    w = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    return w * pattern(spec).mask(w, sparsity)


def _readme() -> dict[str, Any]:
    return {"weight": torch.randn(64, 128), "activations": torch.relu(torch.randn(128))}


def _formats() -> dict[str, Any]:
    return {"w": pruned((64, 128), "gs:8:1")}


def _hardware() -> dict[str, Any]:
    # a conv layer pruned to csp:8 serves every block: EIE and the systolic array lower it
    w = pruned((16, 8, 3, 3), "csp:8")
    x = torch.relu(torch.randn(8, 10, 10))
    table = resources.files("sparsegrain.hardware") / "energy" / "horowitz_45nm.yaml"
    Path("my_table.yaml").write_text(table.read_text())
    return {"weight": w, "activations": x, "w": w, "x": x}


def _patterns() -> dict[str, Any]:
    return {"weight": torch.randn(64, 128)}


def _mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                         nn.Linear(128, 16))


def _deployable() -> nn.Sequential:
    return nn.Sequential(nn.Sequential(nn.Linear(256, 256)), nn.ReLU(), nn.Linear(256, 16))


def _performance() -> dict[str, Any]:
    # both layers pruned; the first already on a kernel whatever the timing, so that the model
    # `sparsify` leaves (which may keep a small layer dense on a busy machine) has one to `save`
    first, last = nn.Linear(256, 256), nn.Linear(256, 16)
    with torch.no_grad():
        for layer in (first, last):
            layer.weight.copy_(pruned((layer.out_features, layer.in_features), "unstructured"))
    deployed = sparsify(nn.Sequential(first), format="csr", keep_dense_if_slower=False,
                        cache=False)
    return {"model": nn.Sequential(deployed, nn.ReLU(), last), "skeleton": _deployable()}


def _pruning() -> dict[str, Any]:
    model = _mlp()
    loader = [(torch.randn(16, 64), torch.randint(0, 16, (16,))) for _ in range(4)]
    return {"model": model, "loader": loader,
            "optimizer": torch.optim.SGD(model.parameters(), lr=0.01)}


class _Net(nn.Module):
    """A small CNN with the layer names the tradeoff example's ``prunable`` globs pick."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten())
        self.classifier = nn.Sequential(nn.Linear(8 * 8 * 8, 32), nn.Linear(32, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _tradeoff() -> dict[str, Any]:
    images, labels = torch.randn(80, 1, 8, 8), torch.randint(0, 10, (80,))

    def accuracy(m: nn.Module, data: tuple[torch.Tensor, torch.Tensor]) -> float:
        with torch.no_grad():
            return (m(data[0]).argmax(1) == data[1]).float().mean().item()

    def train(m: nn.Module, steps: int, callback: Callable[[int], None]) -> None:
        for step in range(steps):
            callback(step)

    return {"my_trained_model": _Net(), "accuracy": accuracy, "test_set": (images, labels),
            "test_images": images, "train": train}


#: per documentation file, the names its fragments use, built in the block's folder
SETUP: dict[str, Callable[[], dict[str, Any]]] = {
    "README.md": _readme,
    "docs/formats.md": _formats,
    "docs/hardware.md": _hardware,
    "docs/patterns.md": _patterns,
    "docs/performance.md": _performance,
    "docs/pruning.md": _pruning,
    "docs/tradeoff.md": _tradeoff,
}


def documents() -> list[str]:
    """The documentation files that hold python blocks, relative to the root."""
    return [p.relative_to(ROOT).as_posix() for p in DOCS if FENCE.search(p.read_text())]


@pytest.mark.parametrize("doc", documents())
def test_python_blocks_run(doc: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPARSEGRAIN_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    text = (ROOT / doc).read_text()
    namespace = {"__name__": "__main__", **SETUP.get(doc, dict)()}
    for m in FENCE.finditer(text):
        # padded so that the traceback's line numbers are the markdown's
        code = "\n" * text.count("\n", 0, m.start(1)) + m.group(1)
        exec(compile(code, str(ROOT / doc), "exec"), namespace)


def test_every_setup_names_a_documentation_file() -> None:
    assert set(SETUP) <= set(documents())
