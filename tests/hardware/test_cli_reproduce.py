import pytest
from typer.testing import CliRunner

from sparsegrain.cli import app

runner = CliRunner()


@pytest.mark.slow
def test_reproduce_csp_quick_writes_report(tmp_path):
    out = tmp_path / "csp"
    r = runner.invoke(app, ["reproduce", "csp", "--quick", "--no-minilm", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert {p.name for p in out.iterdir()} == {"csp.md", "csp.csv", *(
        f"csp_{plot}.{kind}" for plot in ("energy", "speedup") for kind in ("png", "pdf", "svg"))}
    assert "**Published:**" in (out / "csp.md").read_text()
    again = runner.invoke(app, ["reproduce", "csp", "--quick", "--no-minilm", "--out", str(out)])
    assert again.exit_code == 2 and "would overwrite" in again.output


def test_reproduce_bad_options_are_one_line_errors(tmp_path):
    r = runner.invoke(app, ["reproduce", "csp", "--quick", "--sparsities", "0.5,x", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "--sparsities" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["reproduce", "granularity", "--quick", "--density", "1.5", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "error" in r.output and "Traceback" not in r.output
    assert not any(tmp_path.iterdir())
