"""Energy is priced apart from counting: one table entry changes one action's energy only."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

import sparsegrain
from sparsegrain.hardware import EnergyTable


@pytest.fixture(scope="module")
def layer():
    gen = torch.Generator().manual_seed(3)
    w = torch.randn(96, 200, generator=gen)
    w[torch.rand(96, 200, generator=gen) > 0.2] = 0
    act = np.where(np.arange(200) % 3 == 0, 1.5, 0.0).astype(np.float32)
    return w, act


@pytest.mark.parametrize("accel", ["eie", "systolic", "simd"])
def test_doubling_one_entry_doubles_only_that_action(tmp_path, layer, accel):
    # priced flat, every action is count x table entry (sized SRAM: tests/hardware/test_storage.py)
    w, act = layer
    base_table = EnergyTable.load()
    base = sparsegrain.simulate(accel, w, act, energy_table=base_table, memory="flat")
    assert base.energy_pj == pytest.approx(sum(base.energy_by_action.values()))
    for action in base.actions:
        doubled = dict(base_table.pj, **{action: 2 * base_table.pj[action]})
        path = tmp_path / f"{action}.yaml"
        path.write_text(yaml.safe_dump({"name": "doubled", "actions": doubled}))
        r = sparsegrain.simulate(accel, w, act, energy_table=str(path), memory="flat")
        assert r.cycles == base.cycles and r.actions == base.actions
        for a, e in r.energy_by_action.items():
            assert e == pytest.approx(2 * base.energy_by_action[a] if a == action
                                      else base.energy_by_action[a]), (action, a)


def test_unknown_table_is_a_clear_error(layer):
    w, act = layer
    with pytest.raises(ValueError, match="neither a YAML file nor a shipped table"):
        sparsegrain.simulate("simd", w, act, energy_table="nope")


def test_every_number_of_the_shipped_table_names_its_source(tmp_path):
    table = EnergyTable.load()
    assert set(table.sources) == set(table.pj)
    assert "Horowitz" in table.sources["sram_read"] and "derived" in table.sources["int16_mul"]
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump({"name": "t", "actions": {"sram_read": 5.0},
                                    "sources": {"dram_read": "somewhere"}}))
    with pytest.raises(ValueError, match="it names dram_read, which the table lacks"):
        EnergyTable.load(str(path))
    path.write_text(yaml.safe_dump({"name": "t", "actions": {"sram_read": 5.0}}))
    assert EnergyTable.load(str(path)).sources == {"sram_read": "not stated"}
