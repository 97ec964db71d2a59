"""Weight sharing (Deep Compression): kept weights become b-bit codes into a 2^b-entry codebook.

Code 0 is reserved for 0.0; the other 2^b - 1 centroids come from 1-D k-means (Lloyd) over the
kept nonzero weights, initialised linearly between their min and max (Han et al., ICLR 2016,
Sec. 3.2, "linear initialization"). The codes are then stored in any index format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .base import FORMATS, Encoded, check_width, register

MAX_ITER = 300


def kmeans_codebook(values: np.ndarray, bits: int = 4, max_iter: int = MAX_ITER) -> np.ndarray:
    """A 2^bits codebook: entry 0 is 0.0, the rest are 1-D k-means centroids of the nonzero
    ``values`` (linear init between min and max; empty clusters keep their centroid).

    Lloyd's iterations run on the sorted values with prefix sums, so each costs O(2^b log n).
    """
    check_width("code_bits", bits, 1, "a code")
    k = (1 << bits) - 1
    v = np.sort(np.asarray(values, dtype=np.float64).reshape(-1))
    v = v[v != 0]
    if len(v) == 0:
        return np.zeros(k + 1, dtype=np.float32)
    centroids = np.linspace(v[0], v[-1], k)
    prefix = np.concatenate([[0.0], np.cumsum(v)])
    for _ in range(max_iter):
        # a value on a boundary goes to the lower centroid, as argmin does
        split = np.concatenate([[0], np.searchsorted(v, (centroids[:-1] + centroids[1:]) / 2, "right"), [len(v)]])
        counts = np.diff(split)
        sums = prefix[split[1:]] - prefix[split[:-1]]
        new = np.where(counts > 0, sums / np.maximum(counts, 1), centroids)
        if np.array_equal(new, centroids):
            break
        centroids = new
    return np.concatenate([[0.0], centroids]).astype(np.float32)


def quantize(values: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """Code of each value: 0 for an exact 0.0, else the nearest of the codes 1..2^b - 1."""
    codebook = np.asarray(codebook)
    order = np.argsort(codebook[1:], kind="stable") + 1
    sorted_c = codebook[order].astype(np.float64)
    bounds = (sorted_c[:-1] + sorted_c[1:]) / 2
    codes = order[np.searchsorted(bounds, np.asarray(values, dtype=np.float64), "left")]
    return np.where(np.asarray(values) == 0, 0, codes).astype(np.uint8)


def check_codebook(codebook: object, bits: int) -> np.ndarray:
    """A given codebook as float32, checked: 2^bits finite entries with entry 0 equal to 0.0."""
    c = codebook.detach().cpu().numpy() if isinstance(codebook, torch.Tensor) else np.asarray(codebook)
    c = c.astype(np.float32).reshape(-1)
    if len(c) != 1 << bits:
        raise ValueError(f"codebook has {len(c)} entries; {bits}-bit codes need {1 << bits}")
    if c[0] != 0 or not np.isfinite(c).all():
        raise ValueError("codebook entry 0 must be 0.0 (reserved for zeros) and all entries finite")
    return c


def shared_codebook(m: np.ndarray, keep: np.ndarray, bits: int, codebook: object) -> np.ndarray:
    """The given codebook (checked) or k-means over the kept weights."""
    if not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 8:
        raise ValueError(f"code_bits must be in 1..8, got {bits!r}")
    return kmeans_codebook(m[keep], bits) if codebook is None else check_codebook(codebook, bits)


@register("codebook")
@dataclass
class Codebook(Encoded):
    """Codes into ``codebook`` (float32[2^code_bits]) stored in the index format ``inner``.

    ``inner`` is any other format's Encoded of the quantised weight whose value width is
    ``code_bits``; its "values" field is reported as "codes".
    """

    summary = "weight sharing: k-means codebook (code 0 = 0.0) + codes in any index format"
    positional = ("code_bits",)
    exact = False

    code_bits: int
    codebook: np.ndarray
    inner: Encoded

    @classmethod
    def _encode(
        cls, m: np.ndarray, keep: np.ndarray, base: dict[str, Any], code_bits: int = 4, codebook:
        object = None, index: str = "csr", index_params: dict[str, Any] | None = None
    ) -> Codebook:
        """``code_bits`` = 4; ``codebook`` fixes the centroids (else k-means); ``index`` is the
        format holding the codes (default csr), encoded with ``index_params`` (N:M's n and m,
        say)."""
        if index not in FORMATS or index in ("codebook", "eie", "dense"):
            allowed = [f for f in FORMATS if f not in ("codebook", "eie", "dense")]
            raise ValueError(f"codebook index format {index!r} unknown; valid: {', '.join(allowed)}")
        book = shared_codebook(m, keep, code_bits, codebook)
        q = np.zeros_like(m)
        q[keep] = book[quantize(m[keep], book)]
        qw = torch.from_numpy(q)
        own = FORMATS[index].parameters()[2:]  # the codebook sets the value widths
        if index_params is not None and not isinstance(index_params, dict):
            raise ValueError(f"index_params must be a dict of {index}'s parameters, got "
                             f"{type(index_params).__name__}")
        unknown = sorted(set(index_params or {}) - set(own))
        if unknown:
            raise ValueError(f"index format {index} takes no parameter {', '.join(unknown)} in "
                             f"index_params; it takes: {', '.join(own) or 'none'}")
        inner = FORMATS[index].encode(q, keep, weight=qw, value_bits=code_bits,
                                      **(index_params or {}))
        inner.shape = base["shape"]
        return cls(
            **base,
            code_bits=int(code_bits),
            codebook=book,
            inner=inner,
        )

    @property
    def nnz(self) -> int:
        return self.inner.nnz

    @property
    def padding_entries(self) -> int:
        return self.inner.padding_entries

    def matrix(self) -> np.ndarray:
        return self.inner.matrix()

    def _bits(self) -> dict[str, int]:
        bits = {("codes" if k == "values" else k): v for k, v in self.inner._bits().items()}
        bits["codebook"] = len(self.codebook) * self.value_bits
        return bits
