"""Shared fixtures: the shared data folder beside the checkout, seeded generators, the cached
digits-cnn."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import settings

settings.register_profile("ci", max_examples=40, deadline=None)
settings.register_profile("dev", max_examples=20, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SPARSEGRAIN_SHARED", ROOT.parent / "shared"))
FC8 = SHARED / "data" / "eie_alexnet_fc8"
#: the bit formula of every format, as docs/formats.md writes it (```bits fmt blocks)
FORMULAS = dict(re.findall(r"```bits (\w+)\n(.*?)```", (ROOT / "docs" / "formats.md").read_text(),
                           re.S))


class _Names(dict):
    """Formula names: the given ones, else the encoded weight's attribute of that name."""

    def __init__(self, enc: Any) -> None:
        super().__init__()
        self.enc = enc

    def __missing__(self, key: str) -> Any:
        return getattr(self.enc, key)


def documented(enc: Any) -> dict[str, float]:
    """Bits by field of ``enc`` as its format's documented formulas give them (as evaluated, so
    a formula that is not a whole number shows as such)."""
    rep = enc.storage()
    rows, cols = enc.matrix_shape
    names = _Names(enc)
    names.update(rows=rows, cols=cols, nnz=rep.nnz, padding=rep.padding_entries,
                 ceil=math.ceil, log2=math.log2)
    out = {}
    for line in FORMULAS[enc.fmt].strip().splitlines():
        field, expr = (s.strip() for s in line.split("=", 1))
        out[field] = eval(expr, {"__builtins__": {}}, names)  # noqa: S307 - our own docs
    return out


@pytest.fixture
def documented_bits() -> Callable[[Any], dict[str, float]]:
    """:func:`documented`: the bits docs/formats.md promises for an encoded weight."""
    return documented


@pytest.fixture
def documented_formats() -> list[str]:
    """The formats docs/formats.md gives a bit formula for."""
    return sorted(FORMULAS)


@pytest.fixture
def fc8_dir() -> Path:
    """The EIE authors' AlexNet fc8 data; CI has ../shared beside the checkout."""
    if not FC8.is_dir():
        pytest.fail(f"shared data missing: {FC8} (set SPARSEGRAIN_SHARED)")
    return FC8


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


@pytest.fixture(scope="session", autouse=True)
def trained_digits_cnn() -> None:
    """The built-in digits-cnn trained and cached before any test runs a command on it, so a
    command's output in a test is the same on a fresh machine as on one that ran it before (a
    first use prints the training's progress)."""
    from sparsegrain import workloads

    workloads.get("digits-cnn").load()
