"""Pruning configs from Python and YAML recipes, and the errors bad recipes give."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparsegrain.prune import Gradual, PruneConfig, load_config


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "recipe.yaml"
    p.write_text(text)
    return p


def test_yaml_recipe_round_trips(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """
pattern: block:4x4
sparsity: 0.8
criterion: taylor
schedule: {kind: gradual, start: 10, end: 110, every: 5}
layers:
  conv2: {}
  "fc*": {pattern: "nm:2:4", sparsity: 0.5}
dense: [fc2]
on_untileable: skip
""",
    )
    cfg = load_config(p)
    assert cfg.schedule == Gradual(10, 110, 5)
    assert cfg.rule(cfg.layers["fc*"]).pattern == "nm:2:4"
    assert cfg.rule(cfg.layers["conv2"]).sparsity == 0.8
    assert cfg.dense == ["fc2"] and cfg.criterion == "taylor" and cfg.on_untileable == "skip"
    assert PruneConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sparsty: 0.5\n", "unknown key 'sparsty' in pruning recipe"),
        ("layers: {fc1: {patern: block:4x4}}\n", "unknown key 'patern' for layer 'fc1'"),
        ("schedule: {kind: gradual, ends: 10}\n", "unknown key 'ends' in schedule 'gradual'"),
        ("schedule: {kind: cosine}\n", "unknown schedule kind 'cosine'; valid: oneshot"),
        ("pattern: diagonal\n", "unknown pattern 'diagonal'"),
        ("sparsity: 1.5\n", r"sparsity must be in \[0, 1\)"),
        ("criterion: random\n", "unknown criterion 'random'; valid: magnitude, taylor"),
        ("on_untileable: pad\n", "on_untileable must be one of error, skip"),
        ("- a\n- b\n", "must be a mapping"),
        ("pattern: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_recipes_name_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_config(write(tmp_path, text))


def test_missing_recipe_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_python_config_checks_like_yaml() -> None:
    with pytest.raises(ValueError, match="unknown key 'every'"):
        PruneConfig.from_dict({"every": 3})
    with pytest.raises(ValueError, match="gradual: need 0 <= start < end"):
        PruneConfig(schedule={"kind": "gradual", "start": 5, "end": 5})
    assert PruneConfig(layers=["a", "b"]).layers == {"a": {}, "b": {}}
