"""Plain reference implementations the fast encoders must equal."""

from __future__ import annotations

import numpy as np


def relative_reference(m: np.ndarray, keep: np.ndarray, n_pe: int, bits: int):
    """Per PE: pointers, (value, zeros_before) entries, by the rule as written (loops)."""
    rows, cols = m.shape
    full = 1 << bits
    out = []
    for k in range(n_pe):
        ptr, entries = [0], []
        for j in range(cols):
            zeros = 0
            for i in range(k, rows, n_pe):
                if not keep[i, j]:
                    zeros += 1
                    continue
                while zeros >= full:
                    entries.append((0.0, full - 1))
                    zeros -= full
                entries.append((float(m[i, j]), zeros))
                zeros = 0
            ptr.append(len(entries))
        out.append((np.array(ptr), entries))
    return out
