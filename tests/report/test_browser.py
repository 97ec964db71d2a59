"""The report page in a real browser (headless Chromium): it loads with no script error, nothing
spills past a laptop's 1400 px, its answer and winners' figures are the store's, and its charts
draw every point and front, and redraw when the reader toggles a pattern or the axis."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from sparsegrain.report import browser, summarize, write_report
from sparsegrain.report.interactive import chart_data
from sparsegrain.report.render import answer_sentence, fronts, md_text, winners_table

from .test_report import rows

pytestmark = pytest.mark.skipif(
    browser.find_browser() is None,
    reason="no Chromium on PATH (`apt-get install chromium`; `make test` installs it as root)")

#: run in the page before its own scripts: collect errors, then report what was drawn, toggle a
#: pattern off and the axis to energy, and report again
PROBE = """<script>
window.sgErrors = [];
window.addEventListener("error", (e) => window.sgErrors.push(String(e.message)));
const sgConsoleError = console.error;
console.error = (...a) => { window.sgErrors.push(a.join(" ")); sgConsoleError.apply(console, a); };
function sgCharts() {
  return [...document.querySelectorAll(".sg-chart")].map((d) => ({
    panel: d.dataset.panel, shown: d.style.display !== "none",
    traces: [...d.querySelectorAll("g.trace.scatter")].map((t) => t.querySelectorAll("path.point").length),
    x: d.querySelector(".xtitle") ? d.querySelector(".xtitle").textContent : "" }));
}
window.addEventListener("load", () => setTimeout(() => {
  const out = { errors: window.sgErrors, width: document.documentElement.scrollWidth,
    view: window.innerWidth, before: sgCharts(),
    sentences: [...document.querySelectorAll("p")].map((p) => p.textContent)
      .filter((t) => t.startsWith("Within ")),
    tables: [...document.querySelectorAll("table")].slice(0, 3).map((t) =>
      [...t.querySelectorAll("tr")].slice(1).map((r) => [...r.children].map((c) => c.textContent))) };
  const box = document.querySelector('.sg-toggles input[data-key="unstructured"]');
  box.checked = false; box.dispatchEvent(new Event("change"));
  const radio = document.querySelector('input[name="sg-kind"][value="energy_gain"]');
  radio.checked = true; radio.dispatchEvent(new Event("change"));
  setTimeout(() => {
    out.after = sgCharts();
    const pre = document.createElement("pre"); pre.id = "sg-probe";
    pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
  }, 300);
}, 300));
</script>"""


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, object, str]:
    """The probe's findings on the page written from the report tests' rows."""
    out = tmp_path_factory.mktemp("page")
    summary = summarize(rows())
    summary.budgets = (1.0, 5.0, 20.0)
    write_report(summary, out)
    text = (out / "report.html").read_text()
    probed = out / "probed.html"
    probed.write_text(text.replace("<head>", "<head>" + PROBE, 1))
    dom, console = browser.rendered(probed)
    found = re.search(r'<pre id="sg-probe">(.*?)</pre>', dom, re.S)
    assert found, "the probe never reported: the page's scripts did not finish"
    return json.loads(html.unescape(found.group(1))), summary, "\n".join(console)


def test_page_loads_without_errors_and_fits_a_laptop(page) -> None:
    seen, _, console = page
    assert seen["errors"] == [], console
    assert seen["width"] <= seen["view"] == browser.WIDTH


def test_answer_and_winners_are_the_stores(page) -> None:
    seen, summary, _ = page
    plain = [md_text(answer_sentence(summary, b)).replace("**", "") for b in summary.budgets]
    assert seen["sentences"][:len(plain)] == plain
    # the first table of each budget is its winners: cell for cell what the summary gives
    for b, got in zip(summary.budgets, seen["tables"]):
        assert got == winners_table(summary, b).body


def test_charts_draw_every_point_and_front_and_redraw_on_toggles(page) -> None:
    seen, summary, _ = page
    data = chart_data(summary)
    on_front = fronts(summary)
    by = {c["panel"]: c for c in seen["before"]}
    assert set(by) == {p["key"] for p in data["panels"]} and all(c["shown"] for c in by.values())
    for panel in data["panels"]:
        key = f"{panel['key']}/{panel['kinds'][0][0]}"
        counts = by[panel["key"]]["traces"]
        assert sum(counts[:-1]) == sum(key in p["x"] for p in data["points"]) > 0
        name = "compression" if panel["key"] == "storage" else f"{panel['key']} speedup"
        assert counts[-1] == len(on_front[name])  # the front as the report's tables mark it
    after = {c["panel"]: c for c in seen["after"]}
    for panel in data["panels"]:
        kind = panel["kinds"][-1][0]  # energy gain where the machine has it
        key = f"{panel['key']}/{kind}"
        kept = sum(key in p["x"] for p in data["points"] if p["pattern"] != "unstructured")
        assert sum(after[panel["key"]]["traces"][:-1]) == kept
        if kind == "energy_gain":
            assert "energy" in after[panel["key"]]["x"]


def test_screenshot_is_a_png_written_atomically(tmp_path: Path) -> None:
    write_report(summarize(rows()), tmp_path)
    shot = browser.screenshot(tmp_path / "report.html", tmp_path / "report.png", height=900)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="not a file"):
        browser.screenshot(tmp_path / "missing.html", tmp_path / "x.png")
