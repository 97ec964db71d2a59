"""Shared fixtures: the shared data folder beside the checkout, seeded generators."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hypothesis import settings

settings.register_profile("ci", max_examples=40, deadline=None)
settings.register_profile("dev", max_examples=20, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SPARSEGRAIN_SHARED", ROOT.parent / "shared"))
FC8 = SHARED / "data" / "eie_alexnet_fc8"


@pytest.fixture
def fc8_dir() -> Path:
    """The EIE authors' AlexNet fc8 data; CI has ../shared beside the checkout."""
    if not FC8.is_dir():
        pytest.fail(f"shared data missing: {FC8} (set SPARSEGRAIN_SHARED)")
    return FC8


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(1234)
