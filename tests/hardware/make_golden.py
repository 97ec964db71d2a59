"""Regenerate tests/golden/eie_fc8.json: the EIE model's counts on the authors' fc8 data.

Run from the repository root: ``PYTHONPATH=src python tests/hardware/make_golden.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

import sparsegrain
from sparsegrain.formats.eie import read_reference

ROOT = Path(__file__).resolve().parents[2]
FC8 = Path(os.environ.get("SPARSEGRAIN_SHARED", ROOT.parent / "shared")) / "data" / "eie_alexnet_fc8"
GOLDEN = ROOT / "tests" / "golden" / "eie_fc8.json"
DEPTHS = (2, 4, 8, 16, 256)


def golden() -> dict:
    """Cycles, action counts and energy of fc8 at several queue depths (64 PEs, 45 nm table)."""
    enc = read_reference(FC8)
    act = np.fromfile(FC8 / "act.dat", dtype="<f4")
    runs = {}
    for d in DEPTHS:
        r = sparsegrain.simulate("eie", enc, act, fifo_depth=d)
        runs[str(d)] = {"cycles": r.cycles, "actions": r.actions, "energy_pj": r.energy_pj,
                        "extras": {k: v for k, v in r.extras.items() if isinstance(v, (int, float))}}
    return {"command": "PYTHONPATH=src python tests/hardware/make_golden.py", "runs": runs}


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(golden(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
