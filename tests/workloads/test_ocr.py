"""ocr-crnn: the CRNN rebuilt in torch loads english_g2 and reads rendered words."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sparsegrain import workloads
from sparsegrain.workloads.ocr import (
    CHARSET,
    CRNN,
    FONTS,
    OcrCRNN,
    decode,
    edit_distance,
    pad_batch,
    render,
)

pytest.importorskip("easyocr_en_models")


def test_edit_distance_known_cases() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert edit_distance("flaw", "lawn") == 2
    assert edit_distance("same", "same") == 0


def test_greedy_ctc_merges_repeats_and_drops_blanks() -> None:
    ids = [0, CHARSET.index("a") + 1, CHARSET.index("a") + 1, 0, CHARSET.index("a") + 1, CHARSET.index("b") + 1]
    logits = torch.nn.functional.one_hot(torch.tensor([ids]), len(CHARSET) + 1).float()
    assert decode(logits) == ["aab"]


@pytest.mark.slow
def test_rebuilt_crnn_reads_clean_rendered_words() -> None:
    """The architecture is right only if the pretrained weights read clean text perfectly."""
    spec = OcrCRNN.__new__(OcrCRNN)  # no word sets: only the weights are needed here
    from pathlib import Path

    import easyocr_en_models

    spec.weights = Path(easyocr_en_models.model_dir()) / "english_g2.pth"
    model = spec.load()
    assert isinstance(model, CRNN)
    assert sum(p.numel() for p in model.parameters()) == 3_781_345
    words = ["Station", "market", "$19.99", "London", "10:30", "answer", "EXIT", "don't"]
    rng = np.random.default_rng(0)
    imgs = [torch.from_numpy(render(w, FONTS[i % len(FONTS)], rng, 0.0, 0.0)) * 2 - 1 for i, w in enumerate(words)]
    with torch.no_grad():
        assert decode(model(pad_batch(imgs))) == words


@pytest.mark.slow
def test_degraded_words_keep_the_dense_model_below_perfect() -> None:
    spec = workloads.get("ocr-crnn")
    model = spec.load()
    metrics = spec.evaluate(model)
    assert list(metrics) == ["word_accuracy", "cer"]
    assert 0.6 < metrics["word_accuracy"] < 1.0
    assert 0.0 < metrics["cer"] < 0.2
    assert len(spec.eval_texts) == spec.n_eval and len(spec.train_texts) == spec.n_train
    names = spec.prunable(model)
    assert "SequenceModeling.0.rnn" in names and "Prediction" not in names


@pytest.mark.slow
def test_the_ocr_workload_hashes_its_batchnorm_state() -> None:
    """The weights hash reads every buffer, BatchNorm's 0-dim ``num_batches_tracked`` too."""
    wl = workloads.get("ocr-crnn").workload()
    assert any(b.dim() == 0 for b in wl.model.buffers())
    h = wl.weights_hash()
    assert len(h) == 16 and h == wl.weights_hash()
    bn = next(m for m in wl.model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    bn.num_batches_tracked += 1
    assert wl.weights_hash() != h


@pytest.mark.slow
def test_the_ocr_crnn_sweeps_with_its_lstm_measured(tmp_path) -> None:
    from sparsegrain.experiments import Pruning, SweepConfig, run_sweep
    from sparsegrain.experiments.store import STORE_NAME, ResultStore

    cfg = SweepConfig(model="ocr-crnn", patterns=("gs:8:1",), sparsities=(0.5,),
                      accelerators=("eie",), formats=("csr",), pruning=Pruning(steps=0),
                      cpu_batch=1)
    run_sweep(cfg, tmp_path)
    with ResultStore(tmp_path / STORE_NAME, readonly=True) as store:
        got = {(r.pattern, r.kind): r for r in store.rows()}
    gates = [n for n in got["gs:8:1", "accuracy"].result["layer_sparsity"] if ".weight_" in n]
    assert len(gates) == 8  # two bidirectional LSTMs, input and recurrent matrices
    assert set(gates) <= set(got["gs:8:1", "format"].result["layers"])
    # EIE runs each layer and direction as its stacked [W_ih W_hh] matrix, as the paper ran NT-LSTM
    stacked = {g.replace("weight_ih_", "weight_") for g in gates if "weight_ih_" in g}
    assert len(stacked) == 4 and stacked <= set(got["gs:8:1", "accelerator"].result["layers"])
    assert got["gs:8:1", "cpu"].status == "ok"
    assert 0.9 < got["dense", "accuracy"].result["measured_share"] <= 1.0
