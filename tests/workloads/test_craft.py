"""craft: the CRAFT detector rebuilt in torch finds rendered words; its metric and distillation."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from sparsegrain import workloads
from sparsegrain.prune import PruneConfig
from sparsegrain.workloads.craft import CRAFT, detect, iou, matches, render_page

pytest.importorskip("easyocr_en_models")


def test_iou_and_one_to_one_matching() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    truth = [(0, 0, 10, 10), (20, 0, 30, 10)]
    assert matches([(0, 0, 10, 10), (1, 0, 10, 10)], truth) == 1  # two detections, one word
    assert matches([(0, 0, 10, 10), (20, 1, 30, 10)], truth) == 2
    assert matches([(0, 0, 30, 10)], truth) == 0  # two words merged into one box


def test_detection_groups_components_and_needs_a_confident_peak() -> None:
    maps = np.zeros((2, 40, 80), dtype=np.float32)
    maps[0, 10:20, 5:15] = 0.9  # a confident character
    maps[0, 10:20, 25:35] = 0.9
    maps[1, 12:18, 15:25] = 0.6  # linked to it: one word
    maps[0, 25:35, 50:60] = 0.5  # above the low threshold but never confident: dropped
    boxes = detect(maps)
    assert len(boxes) == 1
    x0, y0, x1, y1 = boxes[0]
    assert x0 <= 10 and x1 >= 70 and y0 <= 20 and y1 >= 40  # in input pixels (twice the map's)


def test_rendered_pages_hold_their_words_inside_their_boxes() -> None:
    rng, pick = np.random.default_rng(5), random.Random(5)
    page, boxes = render_page(rng, pick, (160, 256), 8)
    assert page.shape == (160, 256, 3) and page.dtype == np.uint8 and 1 <= len(boxes) <= 8
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= 256 and 0 <= y0 < y1 <= 160
    for a in boxes:  # words never overlap
        assert sum(iou(a, b) > 0 for b in boxes) == 1


@pytest.mark.slow
def test_the_rebuilt_detector_finds_the_rendered_words() -> None:
    """The architecture is right only if the pretrained weights find most rendered words."""
    spec = workloads.get("craft")
    model = spec.load()
    assert isinstance(model, CRAFT)
    assert sum(p.numel() for p in model.parameters()) == 20_770_466
    metrics = spec.evaluate(model)
    assert list(metrics) == ["f1", "precision", "recall"]
    assert metrics["f1"] > 0.9
    names = spec.prunable(model)
    assert "basenet.slice5.1" in names and "basenet.slice1.0" not in names
    assert not any(n.startswith("conv_cls") for n in names)
    words = sum(len(b) for b in spec.eval_boxes)
    assert 150 < words <= 8 * spec.n_eval
    assert spec.workload().card()["evaluation"] == f"24 rendered pages of 160x256 px, {words} words"


@pytest.mark.slow
def test_the_batchnorm_anchor_revives_a_pruned_detector() -> None:
    """Pruned 80 % in one shot the detector goes silent under its frozen BatchNorm statistics;
    moved by the pruning-induced shift only, it finds most words again, and the dense model is
    left as it was."""
    spec = workloads.get("craft")
    dense = spec.load()
    before = {k: v.clone() for k, v in dense.state_dict().items()}
    spec.anchor().correct(dense)
    for k, v in dense.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=1e-4, atol=1e-4)
    model = spec.load()
    spec.prune(model, PruneConfig(pattern="unstructured", sparsity=0.8), steps=0)
    silent = spec.evaluate(model)["f1"]
    spec.anchor().correct(model)
    revived = spec.evaluate(model)["f1"]
    assert silent < 0.3 and revived > 0.8
