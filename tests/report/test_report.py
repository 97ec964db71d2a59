"""The report: speedups against the dense baseline on the same accelerator, Pareto marks, and
report.md / self-contained report.html / PNG plots written from stored rows."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from sparsegrain.experiments.store import NOT_APPLICABLE, OK, Row
from sparsegrain.report import summarize, write_report

PNG = b"\x89PNG\r\n\x1a\n"

# (pattern, sparsity) -> accuracy, compression ratio, cycles on "sim"
POINTS = {
    ("dense", 0.0): (0.98, 1.0, 1000.0),
    ("unstructured", 0.5): (0.98, 1.6, 700.0),
    ("unstructured", 0.9): (0.90, 5.0, 400.0),
    ("filter", 0.5): (0.95, 1.9, 500.0),
    ("filter", 0.9): (0.40, 9.0, 100.0),
    ("gs:8:1", 0.9): (0.80, 4.0, 150.0),
}


def sim(cycles: float, share: dict[str, float]) -> dict:
    """An accelerator result whose cycles (and energy, 2 pJ a cycle) split over layers."""
    layers = {n: {"cycles": cycles * f, "energy_pj": 2 * cycles * f} for n, f in share.items()}
    return {"cycles": cycles, "time_s": cycles * 1e-9, "energy_pj": 2 * cycles, "layers": layers,
            "rejected": {}}


def rows() -> list[Row]:
    out = []
    for (p, s), (acc, ratio, cycles) in POINTS.items():
        def r(kind: str, target: str, result: dict, status: str = OK, p=p, s=s) -> Row:
            return Row(f"{p}{s}{kind}{target}", "digits-cnn", p, s, kind, target, 0, status, {},
                       result)
        out.append(r("accuracy", "", {"metric": "accuracy", "higher_is_better": True,
                                      "value": acc, "metrics": {"accuracy": acc},
                                      "sparsity_actual": s, "layer_sparsity": {"conv2": s},
                                      "left_dense": {}}))
        out.append(r("format", "csr", {"compression_ratio": ratio, "exact": True}))
        out.append(r("format", "cb", {"compression_ratio": 4 * ratio, "exact": False}))
        out.append(r("accelerator", "sim", sim(cycles, {"conv2": 0.25, "fc1": 0.75})))
        if p == "gs:8:1":
            out.append(r("accelerator", "picky", {"reason": "conv2: not a CSP mask"},
                         NOT_APPLICABLE))
        elif p == "filter":  # rejects fc1: compared with dense on conv2 alone
            out.append(r("accelerator", "picky", {**sim(10.0, {"conv2": 1.0}),
                                                  "rejected": {"fc1": "not a conv"}}))
        else:
            out.append(r("accelerator", "picky", sim(40.0, {"conv2": 0.5, "fc1": 0.5})))
    return out


def test_speedup_and_energy_gain_are_against_dense_on_the_same_accelerator() -> None:
    s = summarize(rows())
    assert s.dense.accuracy == 0.98 and s.metric == "accuracy"
    by = {(e.pattern, e.sparsity): e for e in s.entries}
    assert by["filter", 0.9].speedup["sim"] == pytest.approx(10.0)
    assert by["unstructured", 0.5].energy_gain["sim"] == pytest.approx(1000 / 700)
    assert "picky" not in by["gs:8:1", 0.9].speedup
    # picky ran only conv2 of the filter points: dense conv2 took 20 cycles, pruned 10
    assert by["filter", 0.5].speedup["picky"] == pytest.approx(2.0)
    assert by["unstructured", 0.9].speedup["picky"] == pytest.approx(1.0)
    # the quantising format compresses more but is not exact: it is not the best format
    assert by["gs:8:1", 0.9].best_format == ("csr", 4.0)
    assert by["gs:8:1", 0.9].compression["cb"] == 16.0 and by["gs:8:1", 0.9].lossy == {"cb"}
    assert s.patterns == ["unstructured", "filter", "gs:8:1"]
    assert s.sparsities == [0.5, 0.9]


def test_summary_needs_a_dense_baseline_and_one_model() -> None:
    with pytest.raises(ValueError, match="no dense baseline"):
        summarize([r for r in rows() if r.pattern != "dense"])
    other = rows()
    other[0].model = "mnist-cnn"
    with pytest.raises(ValueError, match="one model"):
        summarize(other)


def test_report_files_with_embedded_plots(tmp_path: Path) -> None:
    paths = write_report(summarize(rows()), tmp_path)
    md = (tmp_path / "report.md").read_text()
    page = (tmp_path / "report.html").read_text()
    assert "Dense baseline accuracy: 0.9800" in "\n".join(md.splitlines()[:4])
    pngs = sorted((tmp_path / "plots").glob("*.png"))
    stems = {p.stem for p in pngs}
    assert stems == {"fronts", "equal_accuracy", "accuracy_vs_sparsity",
                     "accuracy_vs_compression"}
    for vector in ("pdf", "svg"):  # every plot also as vector graphics for print
        assert {p.stem for p in (tmp_path / "plots").glob(f"*.{vector}")} == stems
    assert (tmp_path / "plots" / "fronts.svg").read_bytes().lstrip().startswith(b"<?xml")
    # the report opens with the answer (a sentence and the winners per budget), then the
    # interactive fronts, then every pattern at equal accuracy
    assert (md.index("## The answer") < md.index("report.html") <
            md.index("## Every pattern at equal accuracy") < md.index("## Results"))
    assert md.count("**Within ") == 6
    assert page.index("sg-glance") < page.index("Every pattern at equal accuracy")
    # every table scrolls inside its own box: none sits bare in the page
    assert page.count("<table>") == page.count('<div class="wide"><table>') > 3
    assert ".wide{overflow-x:auto" in page
    for p in pngs:
        assert p.read_bytes().startswith(PNG) and p.stat().st_size > 5000
        assert f"(plots/{p.name})" in md
    embedded = re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert sorted(base64.b64decode(e) for e in embedded) == sorted(p.read_bytes() for p in pngs)
    # nothing is fetched: no script from elsewhere, no image but the embedded ones
    assert not re.search(r"<script[^>]* src=", page)
    markup = re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.S)
    assert "Plotly" not in markup and not re.search(r'src="(?!data:)', markup)
    assert paths["md"] == tmp_path / "report.md"


def test_table_marks_the_pareto_front_and_not_applicable(tmp_path: Path) -> None:
    write_report(summarize(rows()), tmp_path)
    md = (tmp_path / "report.md").read_text()
    results = md[md.index("## Results"):md.index("## Pareto front")]
    table = {tuple(c.strip() for c in line.split("|")[1:3]): line.split("|")
             for line in results.splitlines() if line.startswith("| ")}
    # accuracy vs compression ratio: gs:8:1 @ 0.9 (4x, 0.80) is beaten by unstructured @ 0.9
    # (5x, 0.90); every other point is best on one axis against all that beat it on the other
    on_front = {k for k, cells in table.items() if "★ size" in cells[-2]}
    assert on_front == {("unstructured", "0.5"), ("unstructured", "0.9"), ("filter", "0.5"),
                        ("filter", "0.9")}
    # filter @ 0.9 is the fastest on sim (10x); on picky filter @ 0.5 is as fast and more accurate
    assert table["filter", "0.9"][-2].strip() == "★ size; sim speed+energy"
    assert [c.strip() for c in table["gs:8:1", "0.9"][-6:-2]] == ["6.67x", "6.67x", "n/a", "n/a"]
    assert "- accelerator picky (gs:8:1 @ 0.9): conv2: not a CSP mask" in md
    assert "- accelerator picky (layer fc1 only) (filter @ 0.5, filter @ 0.9): not a conv" in md
    assert "| gs:8:1 | 0.9 | 4.00x | 16.00xq |" in md
    # time / energy per inference: 150 cycles at 1 ns = 0.15 us, 300 pJ = 0.0003 uJ
    assert "| gs:8:1 | 0.9 | 0.15 / 0.0003 | n/a |" in md
    front90 = next(line for line in md.splitlines() if line.startswith("| 0.9 |"))
    assert front90.split("|")[2].strip() == "unstructured, filter"


def test_fronts_at_a_sparsity_leave_out_points_that_missed_it(tmp_path: Path) -> None:
    # an N:M-like point stuck at 0.5 actual sparsity when 0.9 was asked for
    stuck = rows()
    for r in stuck:
        if r.pattern == "gs:8:1" and r.kind == "accuracy":
            r.result = {**r.result, "value": 0.99, "sparsity_actual": 0.5}
    write_report(summarize(stuck), tmp_path)
    md = (tmp_path / "report.md").read_text()
    front90 = next(line for line in md.splitlines() if line.startswith("| 0.9 |"))
    assert front90.split("|")[2].strip() == "unstructured, filter"


def test_points_beating_dense_beyond_the_seeds_spread_are_flagged(tmp_path: Path) -> None:
    base = rows()
    summary = summarize(base)
    assert summary.beats_dense() == []  # unstructured 0.5 ties dense
    better = [Row(r.key, r.model, r.pattern, r.sparsity, r.kind, r.target, r.seed, r.status,
                  r.config, {**r.result, "value": 0.99})
              if (r.pattern, r.sparsity, r.kind) == ("filter", 0.5, "accuracy") else r
              for r in base]
    summary = summarize(better)
    assert [e.label for e in summary.beats_dense()] == ["filter @ 0.5"]
    md = write_report(summary, tmp_path)["md"].read_text()
    assert "**Check the baseline:** 1 pruned point(s) beat the dense accuracy" in md
    assert "filter @ 0.5 (0.9900)" in md


def test_a_model_name_cannot_break_the_markdown(tmp_path: Path) -> None:
    named = [Row(r.key, "<script>x</script>\n# | evil", *tuple(vars(r).values())[2:])
             for r in rows()]
    md = write_report(summarize(named), tmp_path)["md"].read_text()
    assert "<script>" not in md and "\n# | evil" not in md
    assert md.splitlines()[0] == "# Trade-off sweep: &lt;script&gt;x&lt;/script&gt; # | evil"


def test_the_cpu_paragraph_names_the_rounds_the_rows_recorded(tmp_path: Path) -> None:
    def cpu(rounds: int | None) -> list[Row]:
        extra = {} if rounds is None else {"rounds": rounds}
        return [Row(f"{p}{s}cpu", "digits-cnn", p, s, "cpu", "cpu", 0, OK, {},
                    {"dense_ms": 2.0, "sparse_ms": 1.0, "speedup": 2.0, "identical": False,
                     **extra}) for (p, s) in POINTS]

    for rounds, says in ((15, "of 15 interleaved rounds"), (7, "of 7 interleaved rounds"),
                         (None, "of interleaved rounds")):
        md = write_report(summarize(rows() + cpu(rounds)), tmp_path)["md"].read_text()
        assert says in md, (rounds, md)


def test_a_measured_speedup_shows_its_noise_and_a_kept_dense_model_says_so(tmp_path: Path) -> None:
    def cpu(p: str, s: float) -> Row:
        same = p == "dense" or p == "filter"
        return Row(f"{p}{s}cpu", "digits-cnn", p, s, "cpu", "cpu", 0, OK, {},
                   {"dense_ms": 2.0, "sparse_ms": 2.0 if same else 1.0,
                    "speedup": 1.0 if same else 2.0, "identical": same, "noise": 0.04,
                    "rounds": 15})

    md = write_report(summarize(rows() + [cpu(p, s) for p, s in POINTS]), tmp_path)["md"]
    text = md.read_text()
    assert "2.00x ±4%" in text and "1x dense kept, ±4%" in text


def test_the_report_opens_with_a_model_card(tmp_path: Path) -> None:
    card = {"parameters": 151_234, "weights": 150_000, "layers": {"Conv2d": 3, "Linear": 2},
            "metric": "accuracy", "higher_is_better": True, "description": "small CNN on digits"}
    carded = [Row(r.key, r.model, r.pattern, r.sparsity, r.kind, r.target, r.seed, r.status,
                  r.config, {**r.result, "model_card": card})
              if (r.pattern, r.kind) == ("dense", "accuracy") else r for r in rows()]
    md = write_report(summarize(carded), tmp_path)["md"].read_text()
    assert ("**Model:** small CNN on digits. 151,234 parameters, 150,000 of them in weight "
            "matrices and kernels; layers: 3 Conv2d, 2 Linear. Metric: accuracy (higher is "
            "better), dense 0.9800") in md
    assert "**Model:**" not in write_report(summarize(rows()), tmp_path / "old")["md"].read_text()


def test_columns_that_say_nothing_are_folded_into_a_line() -> None:
    """A machine at 1.00x for every point (dense hardware gains nothing from zeros) leaves the
    equal-accuracy tables and is named in one line below them; the others stay."""
    from sparsegrain.report.render import equal_accuracy

    extra = [Row(f"{r.pattern}{r.sparsity}flat", "digits-cnn", r.pattern, r.sparsity,
                 "accelerator", "flat", 0, OK, {}, sim(1000.0, {"conv2": 0.5, "fc1": 0.5}))
             for r in rows() if r.kind == "accuracy"]
    blocks = equal_accuracy(summarize(rows() + extra))
    heads = [h for b in blocks if b.kind == "table" for h in b.head]
    assert "sim speedup" in heads and not any(h.startswith("flat") for h in heads)
    folded = [b.text for b in blocks if b.kind == "p" and b.text.startswith("Not shown")]
    assert folded and all("flat speedup, flat energy" in t for t in folded)
