"""Buffers priced by size: the CACTI table, its interpolation, and results that declare buffers."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest
import torch
import yaml

import sparsegrain
from sparsegrain.hardware import EnergyTable
from sparsegrain.hardware.base import SimResult
from sparsegrain.hardware.storage import Storage, sram_access_pj, word_pj

#: Horowitz, ISSCC 2014 (45 nm): a 64-bit cache access costs 10 pJ at 8 KB, 20 pJ at 32 KB and
#: 100 pJ at 1 MB; an independent source for the CACTI 7 table
HOROWITZ_CACHE_64B = {8 * 1024: 10.0, 32 * 1024: 20.0, 1024 * 1024: 100.0}


def grid_points() -> list[list[float]]:
    text = (resources.files("sparsegrain.hardware") / "energy" / "cacti7_sram_45nm.yaml").read_text()
    return yaml.safe_load(text)["points"]


@pytest.mark.parametrize("nbytes, horowitz", HOROWITZ_CACHE_64B.items())
def test_cacti_table_agrees_with_horowitz_cache_energies(nbytes: int, horowitz: float) -> None:
    got = sram_access_pj(nbytes, 64, "read")
    assert horowitz / 1.6 < got < horowitz * 1.6, (nbytes, got)


def test_interpolation_is_exact_on_the_grid_and_monotonic_in_capacity() -> None:
    for b, w, r, wr, _ in grid_points():
        assert sram_access_pj(b, w, "read") == pytest.approx(r, rel=1e-9)
        assert sram_access_pj(b, w, "write") == pytest.approx(wr, rel=1e-9)
    sizes = np.geomspace(256, 4 * 2**20, 40)
    reads = [sram_access_pj(b, 128, "read") for b in sizes]
    assert all(b >= a * 0.999 for a, b in zip(reads, reads[1:]))  # within CACTI's own noise
    assert reads[-1] > 50 * reads[0]


def test_word_prices_flat_and_sized() -> None:
    table = EnergyTable.load()
    big, small = Storage("sram", 2**20, 128), Storage("sram", 1024, 128)
    assert word_pj(big, "read", table.pj, "flat") == table.pj["sram_read"]
    assert word_pj(big, "read", table.pj, "sized") > 10 * word_pj(small, "read", table.pj, "sized")
    assert word_pj(Storage("rf", 8, 32), "write", table.pj, "sized") == table.pj["rf_write"]
    wide = Storage("sram", 8192, 2048)  # past the grid: the per-bit energy of 512-bit accesses
    assert word_pj(wide, "read", table.pj, "sized") == pytest.approx(
        sram_access_pj(8192, 512, "read") / 16)
    with pytest.raises(ValueError, match="memory model must be one of flat, sized"):
        word_pj(big, "read", table.pj, "exact")
    with pytest.raises(ValueError, match="storage kind must be one of rf, sram, dram"):
        Storage("flash", 10, 32)


def test_declared_buffers_must_add_up_to_the_memory_actions() -> None:
    with pytest.raises(ValueError, match="its sram buffers hold 5 words of reads"):
        SimResult("x", 1, 1e9, {"sram_read": 4.0}, {}, 1.0,
                  storage={"gb": Storage("sram", 1024, 64, reads=5.0)})


@pytest.mark.parametrize("accel", ["sparten", "csph", "gs"])
def test_sized_pricing_moves_only_the_declared_buffers(accel: str) -> None:
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(64, 256, generator=gen)
    spec = {"csph": "csp:32", "gs": "gs:8:1"}.get(accel, "unstructured")
    mask = sparsegrain.pattern(spec).mask(w, 0.8)
    x = np.where(np.arange(256) % 2 == 0, 1.0, 0.0).astype(np.float32)[None]
    flat = sparsegrain.simulate(accel, w * mask, x, memory="flat", mask=mask)
    sized = sparsegrain.simulate(accel, w * mask, x, memory="sized", mask=mask)
    assert flat.actions == sized.actions and flat.cycles == sized.cycles
    assert flat.storage and sized.memory_model == "sized"
    by_buffer = sized.storage_energy(EnergyTable.load(), by="buffer")
    assert set(by_buffer) == set(sized.storage)
    for key, pj in flat.energy_by_action.items():
        if not key.startswith(("sram", "rf")):
            assert sized.energy_by_action[key] == pj
    assert sized.energy_by_action["sram_read"] != flat.energy_by_action["sram_read"]
    assert sum(by_buffer.values()) == pytest.approx(sum(
        sized.energy_by_action.get(f"{k}_{op}", 0) for k in ("sram", "rf") for op in ("read", "write")))
