"""The EIE model's fc8 figures equal the golden file (regenerate: see its "command")."""

from __future__ import annotations

import json

import pytest
from make_golden import GOLDEN, golden


def test_fc8_figures_equal_golden_file():
    stored = json.loads(GOLDEN.read_text())
    now = json.loads(json.dumps(golden(), sort_keys=True))
    assert now["runs"]["8"]["cycles"] == 7926
    for depth, run in stored["runs"].items():
        assert now["runs"][depth]["cycles"] == run["cycles"], depth
        assert now["runs"][depth]["actions"] == pytest.approx(run["actions"]), depth
        assert now["runs"][depth]["energy_pj"] == pytest.approx(run["energy_pj"]), depth
        assert now["runs"][depth]["extras"] == pytest.approx(run["extras"]), depth
