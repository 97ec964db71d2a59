import csv

import pytest

from sparsegrain.studies import Study, run_study, write_study


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
    with pytest.raises(ValueError, match="valid: csp, granularity, gs"):
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
