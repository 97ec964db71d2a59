"""Sweep configuration: names are checked against the registries, sparsities against [0, 1),
and row keys change with every part of the configuration."""

from __future__ import annotations

import pytest

from sparsegrain.experiments.config import (
    DENSE,
    Pruning,
    SweepConfig,
    config_key,
    point_config,
    split_list,
)

SMALL = dict(patterns=["unstructured", "filter"], sparsities=["0.5", "0.9"], accelerators=[])


def test_names_are_canonical_and_points_start_with_dense() -> None:
    cfg = SweepConfig(**SMALL, seeds=(0, 1))
    assert cfg.patterns == ("unstructured", "filter")
    assert cfg.sparsities == (0.5, 0.9)
    points = cfg.points()
    assert points[:2] == [(DENSE, 0.0, 0), (DENSE, 0.0, 1)]
    assert len(points) == 2 + 2 * 2 * 2


@pytest.mark.parametrize("field,value,expect", [
    ("model", "", "a model is named by a printable string"),
    ("patterns", "unstructured,blob", "unknown pattern 'blob'; valid forms:"),
    ("accelerators", "warp-drive", "valid:"),
    ("formats", "zip", "valid:"),
    ("sparsities", "0.5,1.0", "outside [0, 1)"),
    ("sparsities", "-0.1", "outside [0, 1)"),
    ("sparsities", "nan", "outside [0, 1)"),
    ("sparsities", "half", "not a number"),
    ("sparsities", "0.5,0.5", "listed twice"),
    ("patterns", "", "no pattern given"),
])
def test_bad_input_names_what_is_allowed(field: str, value: str, expect: str) -> None:
    with pytest.raises(ValueError) as e:
        SweepConfig(**{**SMALL, field: split_list(value) if field != "model" else value})
    assert expect in str(e.value)


def test_a_comma_text_is_split_before_the_config_takes_it() -> None:
    with pytest.raises(ValueError, match="patterns takes a sequence, not the text 'a,b'"):
        SweepConfig(patterns="a,b")


def test_pruning_steps_are_checked() -> None:
    with pytest.raises(ValueError, match="0 .one-shot. or >= 2"):
        Pruning(steps=1)
    assert Pruning(steps=100, ramp=0.7).ramp_end == 70
    assert Pruning(steps=2, ramp=1.0).ramp_end == 1


def test_keys_change_with_every_part_of_the_configuration() -> None:
    cfg = SweepConfig(**SMALL)
    base = point_config(cfg, "unstructured", 0.5, 0)
    key = config_key(base, "format", "csr")
    assert key == config_key(point_config(SweepConfig(**SMALL), "unstructured", 0.5, 0),
                             "format", "csr")
    others = {
        config_key(point_config(cfg, "unstructured", 0.9, 0), "format", "csr"),
        config_key(point_config(cfg, "filter", 0.5, 0), "format", "csr"),
        config_key(point_config(cfg, "unstructured", 0.5, 1), "format", "csr"),
        config_key(base, "format", "coo"),
        config_key(base, "accuracy", ""),
        config_key(point_config(SweepConfig(**SMALL, pruning=Pruning(steps=50)),
                                "unstructured", 0.5, 0), "format", "csr"),
    }
    assert key not in others and len(others) == 6


def test_config_round_trips_through_its_stored_form() -> None:
    cfg = SweepConfig(**SMALL, pruning=Pruning(steps=40, every=5))
    again = SweepConfig.from_dict(cfg.to_dict())
    assert again == cfg and again.fingerprint() == cfg.fingerprint()
    assert SweepConfig(**{**SMALL, "sparsities": ["0.5"]}).fingerprint() != cfg.fingerprint()
