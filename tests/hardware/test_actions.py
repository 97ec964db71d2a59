"""The action vocabulary: typed actions spelled as their table keys, groups from components."""

from __future__ import annotations

import json

import pytest
import yaml

from sparsegrain.hardware import EnergyTable, SimResult
from sparsegrain.hardware.actions import GROUPS, Action, energy_by_group


def test_every_shipped_table_entry_is_an_action_with_a_group():
    table = EnergyTable.load()
    groups = {Action.parse(k).group for k in table.pj}
    assert groups <= set(GROUPS) and {"dram", "sram", "rf", "compute"} <= groups


@pytest.mark.parametrize("key, parts, group", [
    ("int16_mul", ("int", "mul", 16), "compute"), ("fp32_add", ("fp", "add", 32), "compute"),
    ("sram_read", ("sram", "read", 32), "sram"), ("rf_write", ("rf", "write", 32), "rf"),
    ("dram_read", ("dram", "read", 32), "dram"), ("control8_compare", ("control", "compare", 8),
                                                  "control"),
])
def test_keys_parse_to_their_parts_and_back(key, parts, group):
    a = Action.parse(key)
    assert (a.component, a.op, a.width) == parts and a.group == group
    assert a == key and Action(*parts) == a and json.loads(json.dumps({a: 1})) == {key: 1}
    assert yaml.safe_load(yaml.safe_dump({a: 1})) == {key: 1}


@pytest.mark.parametrize("key", ["int16_div", "fp8_mul", "sram_scan", "l2_read", "mul", ""])
def test_anything_outside_the_vocabulary_is_refused(key):
    with pytest.raises(ValueError, match="is not an action; valid: dram_read"):
        Action.parse(key)


def test_results_and_tables_take_only_the_vocabulary(tmp_path):
    with pytest.raises(ValueError, match="'int16_multiply' is not an action"):
        SimResult("x", 1.0, 1e9, {"int16_multiply": 1.0}, {}, 1.0)
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump({"name": "t", "actions": {"sram_read": 5.0, "magic": 1.0}}))
    with pytest.raises(ValueError, match="'magic' is not an action"):
        EnergyTable.load(str(path))


def test_energy_by_group_sums_by_component_not_by_spelling():
    got = energy_by_group({"int8_add": 1.0, "fp16_mul": 2.0, "rf_read": 3.0, "dram_write": 4.0})
    assert got == {"dram": 4.0, "sram": 0.0, "rf": 3.0, "compute": 3.0, "control": 0.0}
