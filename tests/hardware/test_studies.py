import csv

import pytest

from sparsegrain.studies import Study, equal_accuracy, run_study, write_study


def _tiny() -> Study:
    rows = [{"layer": "a", "x": 1.5, "n": 3}, {"layer": "b", "x": 2.0, "n": 4}]

    def draw(fig):
        fig.add_subplot().bar(["a", "b"], [1.5, 2.0])

    return Study("tiny", "Tiny", rows, ["layer", "x"], ["**Published:** 1. **Obtained:** 2."],
                 [("tiny.png", draw)])


def test_write_study_files_and_no_overwrite(tmp_path):
    paths = write_study(_tiny(), tmp_path / "out")
    assert [p.name for p in paths] == ["tiny.md", "tiny.csv", "tiny.png"]
    md = paths[0].read_text()
    assert "| layer | x |" in md and "| b | 2 |" in md and "**Obtained:** 2." in md
    with paths[1].open() as f:
        assert list(csv.DictReader(f))[1] == {"layer": "b", "x": "2.0", "n": "4"}
    assert paths[2].read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="would overwrite"):
        write_study(_tiny(), tmp_path / "out")
    write_study(_tiny(), tmp_path / "out", overwrite=True)


def test_unknown_study():
    with pytest.raises(ValueError, match="valid: csp, eie, granularity, gs, scnn, sparten"):
        run_study("eie-queues")


@pytest.mark.slow
def test_csp_quick_rows_are_consistent():
    s = run_study("csp", quick=True, minilm=False)
    assert s.rows
    for r in s.rows:
        assert r["efficiency_ratio"] == pytest.approx(r["sparten_energy_uj"] / r["csph_energy_uj"])
        assert r["csph_cycles"] > 0 and r["sparten_cycles"] > 0
        assert r["csph_macs"] == r["sparten_macs"] or abs(r["csph_macs"] / r["sparten_macs"] - 1) < 0.2
    assert any("**Published:**" in p for p in s.summary)
    # SparTen's global buffer: the default holds the layer; the bound reads every chunk from DRAM
    title, cols, gb = s.tables[0]
    assert title.startswith("SparTen / CSP-H energy by SparTen's global buffer")
    first = gb[0]
    assert first["fetches_512"] == 1 and first["fetches_0"] > 1
    assert first["ratio_512"] == pytest.approx(s.rows[0]["efficiency_ratio"])
    assert first["ratio_0"] > first["ratio_512"]
    assert gb[-1]["layer"] == "geometric mean"


@pytest.mark.slow
def test_csp_sensitivity_rows_rest_on_the_same_counts():
    s = run_study("csp", quick=True, minilm=False)
    table = next(p for p in s.summary if p.startswith("| pricing |"))
    lines = [ln for ln in table.splitlines()[2:]]
    assert len(lines) == 8
    dram = {ln.split("|")[4].strip() for ln in lines}
    assert len(dram) == 1  # pricing buffers never moves the DRAM ratio
    r = s.rows[0]
    assert r["efficiency_ratio"] != pytest.approx(r["flat_efficiency_ratio"])
    assert r["onchip_efficiency_ratio"] > r["efficiency_ratio"] > r["dram_ratio"]


@pytest.mark.slow
def test_sparten_quick_study_compares_four_machines():
    s = run_study("sparten", quick=True)
    (r,) = s.rows
    assert r["dense_cycles"] > r["one_sided_cycles"] > r["sparten_cycles"]
    assert r["speedup_over_one_sided"] == pytest.approx(r["one_sided_cycles"] / r["sparten_cycles"])
    assert "| dense | 4.7x |" in "\n".join(s.summary)


@pytest.fixture(scope="module")
def gs_sweep(tmp_path_factory: pytest.TempPathFactory):
    from sparsegrain.experiments import SweepConfig, run_sweep
    from sparsegrain.experiments.config import Pruning

    out = tmp_path_factory.mktemp("gs_sweep")
    cfg = SweepConfig(patterns=("unstructured", "block:8x1", "gs:8:1"), sparsities=(0.5, 0.9),
                      accelerators=("gs",), formats=("csr",), cpu_batch=0,
                      pruning=Pruning(steps=8, every=2))
    run_sweep(cfg, out)
    return out


@pytest.mark.slow
def test_gs_study_adds_the_equal_accuracy_table_from_a_sweep(gs_sweep):
    s = run_study("gs", quick=True, from_store=str(gs_sweep))
    text = "\n".join(s.summary)
    assert "**At equal accuracy**" in text
    table = [ln.split(" | ") for ln in text.splitlines() if ln.startswith("| digits-cnn |")]
    assert [r[2] for r in table] == ["0.5", "1", "2"] and {r[3] for r in table} == {"gs:8:1"}
    head = next(ln for ln in text.splitlines() if ln.startswith("| network |"))
    assert "over block:8x1" in head and "over unstructured" in head
    per_layer = next(ln for ln in text.splitlines() if ln.startswith("| layer |"))
    assert per_layer.startswith("| layer | gs:8:1 @ ")  # block:8x1 joins it only within the budget
    assert ("block:8x1 @" in per_layer) == ("gs:8:1 over block:8x1" in per_layer)
    layers = [ln for ln in text.splitlines() if ln.startswith(("| conv", "| fc"))]
    assert len(layers) == 3  # digits-cnn's pruned layers: conv2, conv3, fc1
    twice = run_study("gs", quick=True, from_store=f"{gs_sweep},{gs_sweep}")
    rows = [ln for ln in "\n".join(twice.summary).splitlines() if ln.startswith("| digits-cnn |")]
    assert len(rows) == 2 * len(table)
    with pytest.raises(ValueError, match="did not simulate scnn; it ran gs"):
        equal_accuracy.ratio_table([str(gs_sweep)], "scnn", "speedup", lambda p: True, lambda p: True)
    with pytest.raises(ValueError, match="holds none of vector, kernel or filter"):
        run_study("granularity", quick=True, from_store=str(gs_sweep))
    with pytest.raises(ValueError, match="holds no sweep store"):
        run_study("gs", quick=True, from_store=str(gs_sweep / "nothing"))


@pytest.mark.slow
def test_scnn_quick_study_compares_with_its_dense_machine():
    s = run_study("scnn", quick=True)
    (r,) = s.rows
    assert r["dense_cycles"] > r["scnn_cycles"] and r["speedup"] == pytest.approx(
        r["dense_cycles"] / r["scnn_cycles"])
    # the dense machine multiplies every pair: 1 / (weight density x activation density) more
    assert r["products_ratio"] == pytest.approx(1 / (0.37 * 0.5), rel=0.05)
    title, cols, body = s.tables[0]
    assert body[0]["network"] == "alexnet" and body[0]["speedup"] == pytest.approx(r["speedup"])
    assert body[-1]["speedup"] == 2.7 and "**Published:**" in "\n".join(s.summary)
