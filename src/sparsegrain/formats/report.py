"""Bits by field for many layers, patterns and formats: what ``sparsegrain encode`` prints.

At the same density, a coarse pattern stored in a format with one index per group (block CSR,
N:M, CSP) spends fewer bits per kept weight than unstructured sparsity with relative indexing:
the index-saving effect of Mao et al., "Exploring the Regularity of Sparse Structure in CNNs",
2017.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..patterns import pattern
from .base import FORMATS, StorageReport, encode, parse_format, pattern_params

#: the format column of a layer the pattern cannot tile (no format is tried on it)
SKIPPED = "(skipped)"


@dataclass
class LayerEncoding:
    """One layer encoded in one format (``report`` is None when the format cannot hold it)."""

    layer: str
    pattern: str
    format: str
    report: StorageReport | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {"layer": self.layer, "pattern": self.pattern, "format": self.format}
        return {**d, **(self.report.to_dict() if self.report else {"error": self.error})}


def encode_layers(
    named: dict[str, torch.Tensor],
    patterns: list[str | None],
    sparsity: float | None,
    formats: list[str] | None = None,
) -> list[LayerEncoding]:
    """Mask every layer with every pattern (``None``: keep the weight's own nonzeros) and
    encode it in every format (default: all); a format that cannot hold a mask gets an error."""
    rows = []
    for name, w in named.items():
        for text in patterns:
            spec = pattern(text) if text else None
            if spec is None:
                mask = w != 0
            else:
                try:
                    mask = spec.mask(w, sparsity if sparsity is not None else 0.0)
                except ValueError as e:  # the pattern cannot tile this layer: skipped with why
                    rows.append(LayerEncoding(name, spec.spec, SKIPPED, None, str(e)))
                    continue
            for f in formats or list(FORMATS):
                kind, params = parse_format(f)
                params = {**pattern_params(kind, spec), **params}
                label = spec.spec if spec else "as given"
                try:
                    rep = encode(w, kind, mask=mask, **params).storage()
                    rows.append(LayerEncoding(name, label, f, rep))
                except ValueError as e:
                    rows.append(LayerEncoding(name, label, f, None, str(e)))
    return rows


def totals(rows: list[LayerEncoding]) -> list[LayerEncoding]:
    """Per (pattern, format) the bits summed over the layers every format could hold; layers the
    pattern cannot tile (``SKIPPED`` rows) are left out of every format alike."""
    out: dict[tuple[str, str], LayerEncoding] = {}
    for r in rows:
        if r.format == SKIPPED:
            continue
        key = (r.pattern, r.format)
        if key not in out:
            out[key] = LayerEncoding("all layers", r.pattern, r.format, None, None)
        t = out[key]
        if r.report is None:
            t.error = t.error or r.error
            continue
        if t.report is None:
            t.report = StorageReport(r.format, (0,), {}, 0, 0, 0)
        for k, v in r.report.bits.items():
            t.report.bits[k] = t.report.bits.get(k, 0) + v
        t.report.nnz += r.report.nnz
        t.report.padding_entries += r.report.padding_entries
        t.report.dense_bits += r.report.dense_bits
    return [t if t.error is None else LayerEncoding(t.layer, t.pattern, t.format, None, t.error)
            for t in out.values()]
