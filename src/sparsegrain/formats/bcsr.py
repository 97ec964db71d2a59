"""Block CSR: CSR over R x C blocks; one column index per kept block, the block stored dense."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..patterns.base import Geometry
from .base import Encoded, register, row_pointers


@register("bcsr")
@dataclass
class BCSR(Encoded):
    """``indptr``: int64[block rows + 1]; ``indices``: int32 block column of each kept block;
    ``blocks``: values[n_blocks, R, C] (unkept and out-of-matrix slots are 0). A block is kept
    when any of its positions is kept; the matrix edge is padded to whole blocks."""

    summary = "block CSR: one column index per kept R x C block (default 4x4)"
    positional = ("block_rows", "block_cols")

    indptr: np.ndarray
    indices: np.ndarray
    blocks: np.ndarray
    n_kept: int
    index_bits: int
    pointer_bits: int

    @classmethod
    def for_pattern(cls, geometry: Geometry) -> dict[str, Any] | None:
        if geometry.block is None:
            return None
        return {"block_rows": geometry.block[0], "block_cols": geometry.block[1]}

    @classmethod
    def _encode(
        cls, m: np.ndarray, keep: np.ndarray, base: dict[str, Any], block_rows: int = 4,
        block_cols: int = 4, index_bits: int | None = None, pointer_bits: int = 32
    ) -> BCSR:
        """4 x 4 blocks; ``index_bits`` defaults to ceil(log2(block columns)); 32-bit pointers."""
        for name, v in (("block_rows", block_rows), ("block_cols", block_cols)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        r, c = block_rows, block_cols
        rows, cols = m.shape
        nr, nc = -(-rows // r), -(-cols // c)
        tiles = np.zeros((nr * r, nc * c), dtype=m.dtype)
        tiles[:rows, :cols] = np.where(keep, m, 0)
        tiles = tiles.reshape(nr, r, nc, c).transpose(0, 2, 1, 3)
        kept_tiles = np.zeros((nr * r, nc * c), dtype=bool)
        kept_tiles[:rows, :cols] = keep
        br, bc = np.nonzero(kept_tiles.reshape(nr, r, nc, c).any(axis=(1, 3)))
        indptr, index_bits = row_pointers(br, nr, nc, index_bits, pointer_bits, "block")
        return cls(
            **base,
            indptr=indptr,
            indices=bc.astype(np.int32),
            blocks=np.ascontiguousarray(tiles[br, bc]),
            n_kept=int(keep.sum()),
            index_bits=int(index_bits),
            pointer_bits=int(pointer_bits),
        )

    @property
    def block_rows(self) -> int:
        return self.blocks.shape[1]

    @property
    def block_cols(self) -> int:
        return self.blocks.shape[2]

    @property
    def nnz(self) -> int:
        return self.n_kept

    @property
    def padding_entries(self) -> int:
        return self.blocks.size - self.n_kept

    def matrix(self) -> np.ndarray:
        rows, cols = self.matrix_shape
        n, r, c = self.blocks.shape
        nr, nc = len(self.indptr) - 1, -(-cols // c)
        tiles = np.zeros((nr, nc, r, c), dtype=self.blocks.dtype)
        br = np.repeat(np.arange(nr), np.diff(self.indptr))
        tiles[br, self.indices] = self.blocks
        return tiles.transpose(0, 2, 1, 3).reshape(nr * r, nc * c)[:rows, :cols].copy()

    def _bits(self) -> dict[str, int]:
        return {
            "values": self.nnz * self.value_bits,
            "indices": len(self.indices) * self.index_bits,
            "pointers": len(self.indptr) * self.pointer_bits,
            "padding": self.padding_entries * self.value_bits,
        }
