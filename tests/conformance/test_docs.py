"""Every registered member has its docs entry: adding a member means its module and its entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparsegrain.formats import FORMATS
from sparsegrain.hardware import ACCELERATORS
from sparsegrain.kernels import KERNELS
from sparsegrain.patterns import PATTERNS
from sparsegrain.studies import STUDIES
from sparsegrain.workloads import MODELS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def text(*names: str) -> str:
    return "\n".join((DOCS / n).read_text() for n in names)


ENTRIES = [
    *((k, "`" + k, ("patterns.md",)) for k in PATTERNS),
    *((k, "```bits " + k + "\n", ("formats.md",)) for k in FORMATS),
    *((k, "`" + k, ("performance.md",)) for k in KERNELS),
    *((k, "`" + k + "`", ("hardware.md", "hardware2.md")) for k in ACCELERATORS),
    *((k, k, ("pruning.md",)) for k in MODELS),
    *((k, "reproduce " + k, ("hardware.md", "hardware2.md")) for k in STUDIES),
]


@pytest.mark.parametrize("key, needle, docs", ENTRIES, ids=[f"{d[0]}:{k}" for k, _, d in ENTRIES])
def test_every_member_is_documented(key, needle, docs):
    assert needle in text(*docs), f"{key} has no entry in docs/{' or docs/'.join(docs)}"
