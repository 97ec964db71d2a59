"""EIE's weight format: relative-index CSC interleaved over P PEs, with 4-bit shared-weight codes.

Han et al., "EIE: Efficient Inference Engine on Compressed Deep Neural Network", ISCA 2016,
Sec. III: 4-bit codes into a 16-entry codebook, 4-bit relative row indices, 16-bit column
pointers, 64 PEs. The reference files of ``RalphMao/EIE-simulator`` (``ptr/ptrK.dat``,
``spm/spmK.dat``, ``arithm.dat``) are read and written byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .base import check_width, register
from .codebook import quantize, shared_codebook
from .rcsc import Relative, check_relative, entry_positions, pointer_width, relative_layout

EIE_POINTER_BITS = 16


@register("eie")
@dataclass
class EIEFormat(Relative):
    """EIE's per-PE arrays, for PE k in 0..n_pe-1 (PE k owns rows i with i mod n_pe == k):

    - ``ptr[k]``: int64[cols + 1] column pointers; column j is entries ``ptr[k][j]:ptr[k][j+1]``;
    - ``codes[k]``: uint8 per entry, index into ``codebook`` (code 0 = 0.0, also the filler code);
    - ``zeros_before[k]``: uint8 per entry, PE k's zero rows skipped before it (0..2^b - 1; the
      first entry of a column sits at local row ``zeros_before``; local row l is global row
      l * n_pe + k);
    - ``codebook``: float32[2^code_bits]; ``shape`` = (rows, cols).

    ``bias_column``: the last column is a bias, multiplied by an activation of 1.0 (True for the
    fc8 reference data: 4,096 inputs + 1 bias column); it is stored like any other column.
    """

    summary = "EIE: relative-index CSC over P PEs with 4-bit codebook codes and 16-bit pointers"
    positional = ("n_pe",)
    exact = False

    codes: list[np.ndarray]
    codebook: np.ndarray
    code_bits: int
    bias_column: bool

    @classmethod
    def _encode(
        cls, m: np.ndarray, keep: np.ndarray, base: dict[str, Any], n_pe: int = 64, index_bits:
        int = 4, pointer_bits: int = EIE_POINTER_BITS, code_bits: int = 4, codebook: object =
        None, bias_column: bool = False
    ) -> EIEFormat:
        """64 PEs, 4-bit codes and zeros_before, 16-bit pointers; ``codebook`` fixes the
        centroids (else k-means over the kept weights)."""
        check_relative(n_pe, index_bits)
        book = shared_codebook(m, keep, code_bits, codebook)
        ptr, zb, src, fillers = relative_layout(keep, n_pe, index_bits)
        flat = m.reshape(-1)
        codes = [np.where(s >= 0, quantize(flat[np.maximum(s, 0)], book), 0).astype(np.uint8) for s in src]
        return cls(
            **base,
            n_pe=int(n_pe),
            index_bits=int(index_bits),
            pointer_bits=pointer_width(ptr, pointer_bits, "eie"),
            fillers=fillers,
            ptr=ptr,
            zeros_before=zb,
            codes=codes,
            codebook=book,
            code_bits=int(code_bits),
            bias_column=bool(bias_column),
        )

    def payload(self, k: int) -> np.ndarray:
        return self.codebook[self.codes[k]]

    def _entry_bits(self) -> int:
        return self.code_bits

    def _bits(self) -> dict[str, int]:
        bits = super()._bits()
        bits["codes"] = bits.pop("values")
        bits["codebook"] = len(self.codebook) * self.value_bits
        return {k: bits[k] for k in ("codes", "indices", "pointers", "padding", "codebook")}


def pointer_bits_for(keep: np.ndarray, n_pe: int) -> int:
    """EIE's 16-bit column pointers, or 32 bits when a PE's slice could outgrow them: its kept
    weights plus at most one filler per 2^4 = 16 of its rows in every column (a bound, so the
    width follows from the mask alone)."""
    rows = np.arange(keep.shape[0]) % n_pe
    kept = np.bincount(rows, weights=keep.sum(1), minlength=n_pe)
    bound = kept + np.bincount(rows, minlength=n_pe) * keep.shape[1] // 16
    return EIE_POINTER_BITS if int(bound.max()) < 1 << EIE_POINTER_BITS else 32


def read_reference(
    path: str | Path, rows: int | None = None, index_bits: int = 4, bias_column: bool = True
) -> EIEFormat:
    """Read EIE reference files (``arithm.dat``, ``ptr/ptrK.dat``, ``spm/spmK.dat``; uint32 and
    float32 little-endian) into an :class:`EIEFormat`. ``rows`` defaults to the last used row + 1."""
    path = Path(path)
    n_pe = 0
    while (path / "ptr" / f"ptr{n_pe}.dat").is_file():
        n_pe += 1
    if n_pe == 0 or not (path / "arithm.dat").is_file():
        raise ValueError(f"{path} holds no EIE reference data (arithm.dat, ptr/ptr0.dat, spm/spm0.dat)")
    book = np.fromfile(path / "arithm.dat", dtype="<f4").astype(np.float32)
    code_bits = int(np.log2(len(book)))
    if len(book) != 1 << code_bits:
        raise ValueError(f"{path / 'arithm.dat'} holds {len(book)} entries, not a power of two")
    ptr: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    zb: list[np.ndarray] = []
    for k in range(n_pe):
        p = np.fromfile(path / "ptr" / f"ptr{k}.dat", dtype="<u4").astype(np.int64)
        spm = np.fromfile(path / "spm" / f"spm{k}.dat", dtype="<u4")
        if len(spm) % 2 or len(spm) // 2 != p[-1] or (ptr and len(p) != len(ptr[0])):
            raise ValueError(f"{path}: ptr{k}.dat and spm{k}.dat disagree on the entry count")
        pairs = spm.reshape(-1, 2)
        if pairs[:, 0].max(initial=0) >= len(book) or pairs[:, 1].max(initial=0) >> index_bits:
            raise ValueError(f"{path}: spm{k}.dat holds a code or zeros_before out of range")
        ptr.append(p)
        codes.append(pairs[:, 0].astype(np.uint8))
        zb.append(pairs[:, 1].astype(np.uint8))
    full = (1 << index_bits) - 1
    fillers = int(sum(((c == 0) & (z == full)).sum() for c, z in zip(codes, zb, strict=True)))
    cols = len(ptr[0]) - 1
    last = max(int(entry_positions(ptr[k], zb[k], n_pe, k)[0].max(initial=-1)) for k in range(n_pe))
    rows = last + 1 if rows is None else rows
    if rows <= last:
        raise ValueError(f"rows = {rows} but the data uses row {last}")
    return EIEFormat(
        shape=(rows, cols),
        dtype="float32",
        value_bits=16,
        dense_bits=16,
        n_pe=n_pe,
        index_bits=index_bits,
        pointer_bits=EIE_POINTER_BITS,
        fillers=fillers,
        ptr=ptr,
        zeros_before=zb,
        codes=codes,
        codebook=book,
        code_bits=code_bits,
        bias_column=bias_column,
    )


def write_reference(encoded: EIEFormat, path: str | Path, overwrite: bool = False) -> None:
    """Write ``encoded`` as EIE reference files (``arithm.dat``, ``ptr/``, ``spm/``) under ``path``.

    Refuses to replace existing files unless ``overwrite``.
    """
    if not isinstance(encoded, EIEFormat):
        raise ValueError(f"write_reference takes an EIE encoding, got {type(encoded).__name__}")
    path = Path(path)
    targets = [path / "arithm.dat"] + [
        path / d / f"{d}{k}.dat" for k in range(encoded.n_pe) for d in ("ptr", "spm")
    ]
    existing = [t for t in targets if t.exists()]
    if existing and not overwrite:
        raise ValueError(f"{existing[0]} exists; pass overwrite=True to replace EIE files in {path}")
    check_width("pointer_bits", 32, max(int(p[-1]) for p in encoded.ptr).bit_length(), "uint32 files")
    (path / "ptr").mkdir(parents=True, exist_ok=True)
    (path / "spm").mkdir(parents=True, exist_ok=True)
    encoded.codebook.astype("<f4").tofile(path / "arithm.dat")
    for k in range(encoded.n_pe):
        encoded.ptr[k].astype("<u4").tofile(path / "ptr" / f"ptr{k}.dat")
        pairs = np.stack([encoded.codes[k], encoded.zeros_before[k]], axis=1).astype("<u4")
        pairs.tofile(path / "spm" / f"spm{k}.dat")
