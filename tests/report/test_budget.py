"""The answer at equal accuracy: candidates within a budget, interpolation across it, ratios."""

from __future__ import annotations

import pytest

from sparsegrain.report.budget import answer, check_budgets, ratio, references, to_json
from sparsegrain.report.summary import Entry, Summary


def entry(pattern, s, acc, speed, comp) -> Entry:
    return Entry(pattern, s, acc, s, 1, compression={"csr": comp}, speedup={"gs": speed},
                 energy_gain={"gs": speed / 2}, accel={"gs": {}})


def summary(higher_is_better: bool = True) -> Summary:
    dense = Entry("dense", 0.0, 0.90, 0.0, 1, compression={"dense": 1.0}, accel={"gs": {}})
    entries = [
        entry("unstructured", 0.5, 0.90, 1.5, 2.0), entry("unstructured", 0.9, 0.86, 3.0, 6.0),
        entry("block:4x4", 0.5, 0.88, 2.0, 2.5), entry("block:4x4", 0.9, 0.70, 4.0, 9.0),
        entry("gs:8:1", 0.5, 0.895, 2.5, 2.0), entry("gs:8:1", 0.9, 0.885, 7.0, 6.0),
    ]
    if not higher_is_better:  # the same curves as a loss: lower is better
        dense.accuracy = 1 - dense.accuracy
        for e in entries:
            e.accuracy = 1 - e.accuracy
    return Summary("m", "accuracy", higher_is_better, dense, entries, ["csr"], ["gs"], ["fc"],
                   {}, budgets=(1.0, 2.0))


@pytest.mark.parametrize("higher", [True, False])
def test_points_inside_count_and_the_crossing_is_interpolated(higher):
    a = answer(summary(higher), 2.0)  # floor 0.88 (or ceiling 0.12 for the loss)
    u = a["unstructured"]  # 0.90 at 0.5, 0.86 at 0.9: crosses 0.88 half way, at 0.7
    assert u.sparsity.value == pytest.approx(0.7) and u.sparsity.interpolated
    # gains are interpolated through their reciprocals: 1 / (1/1.5 + 1/3.0) * 2 and 1 / (1/2 + 1/6) * 2
    assert u.speedup["gs"].value == pytest.approx(2.0) and u.speedup["gs"].interpolated
    assert u.compression.value == pytest.approx(3.0)
    g = a["gs:8:1"]  # never leaves the budget: the measured 0.9 point, not interpolated
    assert g.speedup["gs"].value == 7.0 and not g.speedup["gs"].interpolated
    b = a["block:4x4"]  # exactly on the floor at 0.5, then out
    assert b.speedup["gs"].value == pytest.approx(2.0)


def test_the_dense_end_of_the_curve_is_one_x():
    a = answer(summary(), 1.0)  # floor 0.89: block's first point 0.88 is already outside
    b = a["block:4x4"]
    # between dense (0.90, 1x) and block at 0.5 (0.88, 2x): the crossing is half way along
    assert b.sparsity.value == pytest.approx(0.25) and b.speedup["gs"].value == pytest.approx(4 / 3)


def test_interpolation_is_exact_where_time_follows_the_weights_kept():
    """A pattern whose run time is the weights kept (speedup 1 / (1 - s)) is interpolated to the
    speedup it has at the interpolated sparsity; a straight line in speedup would overstate it."""
    dense = Entry("dense", 0.0, 0.90, 0.0, 1, compression={"dense": 1.0}, accel={"gs": {}})
    pts = [entry("unstructured", s, acc, 1 / (1 - s), 1 / (1 - s)) for s, acc in ((0.5, 0.90), (0.9, 0.86))]
    a = answer(Summary("m", "accuracy", True, dense, pts, ["csr"], ["gs"], ["fc"], {}), 2.0)
    u = a["unstructured"]
    assert u.sparsity.value == pytest.approx(0.7)
    assert u.speedup["gs"].value == pytest.approx(1 / 0.3)  # a straight line gives 6.0
    assert u.compression.value == pytest.approx(1 / 0.3)


def test_ratios_compare_patterns_at_the_same_budget():
    s = summary()
    a = answer(s, 2.0)
    assert references(s) == {"unstructured": "unstructured", "block": "block:4x4"}
    assert ratio(a, "gs:8:1", "unstructured", "speedup", "gs") == pytest.approx(7.0 / 2.0)
    assert ratio(a, "gs:8:1", "block:4x4", "speedup", "gs") == pytest.approx(7.0 / 2.0)
    data = to_json(s, (2.0,))["2"]["gs:8:1"]
    assert data["speedup:gs"]["value"] == 7.0 and data["vs_block"]["speedup:gs"] == pytest.approx(3.5)


@pytest.mark.parametrize("bad", ["0", "-1", "x", "", "nan", "1,,inf"])
def test_budgets_must_be_positive_numbers(bad):
    with pytest.raises(ValueError, match="budget"):
        check_budgets(bad)
    assert check_budgets("0.5, 1,2") == (0.5, 1.0, 2.0)
