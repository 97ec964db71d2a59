"""Machines as data (hardware/machines.py): files and typed machines, grids, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import sparsegrain as sg
from sparsegrain.cli import app
from sparsegrain.experiments import Pruning, ResultStore, SweepConfig, run_sweep
from sparsegrain.experiments.config import split_list
from sparsegrain.hardware import ACCELERATORS
from sparsegrain.hardware.machines import Machine, load_machines, machines, one_machine

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "machines"
runner = CliRunner()


def test_every_seed_model_has_an_example_file():
    models = {m.model for f in EXAMPLES.glob("*.yaml") for m in load_machines(f)}
    assert models == {"eie", "scnn", "sparten", "csph", "gs", "systolic", "simd"}
    assert models <= set(ACCELERATORS)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_each_example_runs_through_simulate(path):
    """A single machine runs a catalog layer through the CLI; a grid is refused by simulate
    (one value an axis) and its first machine runs through the Python API."""
    found = load_machines(path)
    layer = ["--workload", "eie:NT-We"]
    if found[0].model == "csph":  # CSP-H runs csp:C masks only
        layer += ["--pattern", "csp:32", "--sparsity", "0.8"]
    if len(found) == 1:
        out = runner.invoke(app, ["simulate", str(path), *layer, "--json"])
        assert out.exit_code == 0, out.output
        data = json.loads(out.output)
        assert data["accel"] == found[0].model and data["cycles"] > 0
        return
    out = runner.invoke(app, ["simulate", str(path), *layer])
    assert out.exit_code == 2 and "describes" in out.output and "give one value" in out.output
    w = torch.randn(64, 48) * (torch.rand(64, 48) < 0.3)
    assert sg.simulate(found[0], w).cycles > 0


def test_a_machine_file_sets_what_it_says():
    eie = one_machine(str(EXAMPLES / "eie-64pe.yaml"))
    assert (eie.name, eie.model) == ("eie-64pe", "eie")
    built = eie.build()
    assert built.n_pe == 64 and built.clock_hz == 800e6
    gs = load_machines(EXAMPLES / "gs-grid.yaml")
    assert [m.name for m in gs] == ["gs(lanes=8,spm_elems=32768)", "gs(lanes=8,spm_elems=65536)",
                                    "gs(lanes=16,spm_elems=32768)", "gs(lanes=16,spm_elems=65536)"]
    assert [m.build().lanes for m in gs] == [8, 8, 16, 16]


def test_a_sweep_takes_machine_files_beside_names(tmp_path):
    cfg = SweepConfig(patterns=("gs:8:1",), accelerators=(
        "eie", str(EXAMPLES / "gs-grid.yaml"), str(EXAMPLES / "eie-64pe.yaml")))
    machines_ = cfg.plan.machines
    assert list(machines_)[:2] == ["eie", "gs(lanes=8,spm_elems=32768)"] and len(machines_) == 6
    assert machines_["eie-64pe"].params["clock_hz"] == 800e6
    assert machines_["gs(lanes=16,spm_elems=65536)"].params == {"lanes": 16, "e": 1,
                                                                "spm_elems": 65536}
    for n in (1, 2):
        (tmp_path / f"m{n}.yaml").write_text(f"name: same\nmodel: gs\nparams: {{lanes: {8 * n}}}\n")
    with pytest.raises(ValueError, match="machine column listed twice: same"):
        SweepConfig(accelerators=(str(tmp_path / "m1.yaml"), str(tmp_path / "m2.yaml")))


def test_typed_machines_and_their_lists():
    assert split_list("gs(lanes=8,16;spm_elems=65536),eie, systolic") == [
        "gs(lanes=8,16;spm_elems=65536)", "eie", "systolic"]
    two = machines("gs(lanes=8,16;spm_elems=65536)")
    assert [m.name for m in two] == ["gs(lanes=8,spm_elems=65536)", "gs(lanes=16,spm_elems=65536)"]
    assert machines("eie") == [Machine("eie", "eie")]
    assert machines("scnn(merge=false)")[0].params == {"merge": False}


def test_the_machines_own_energy_table_prices_it(tmp_path):
    table = tmp_path / "double.yaml"
    base = sg.simulate("simd", torch.ones(16, 16), memory="flat")  # every action from the table
    shipped = Path(sg.__file__).parent / "hardware" / "energy" / "horowitz_45nm.yaml"
    import yaml

    data = yaml.safe_load(shipped.read_text())
    data["actions"] = {k: 2 * float(v) for k, v in data["actions"].items()}
    table.write_text(yaml.safe_dump(data))
    (tmp_path / "m.yaml").write_text("model: simd\nenergy: double.yaml\n")
    doubled = sg.simulate(str(tmp_path / "m.yaml"), torch.ones(16, 16), memory="flat")
    assert doubled.energy_pj == pytest.approx(2 * base.energy_pj)


MALFORMED = [
    ("model: gs\nparams: {lanse: 8}\n", "no parameter 'lanse'; it takes: lanes"),
    ("model: gs\nparams: {lanes: eight}\n", "params.lanes must be int, got 'eight'"),
    ("model: gs\nparams: {lanes: 8.5}\n", "params.lanes must be int, got 8.5"),
    ("model: gs\nparams: {lanes: true}\n", "params.lanes must be int, got True"),
    ("model: gs\nparams: {lanes: -8}\n", "params.lanes = -8 is out of range"),
    ("model: gs\nparams: {lanes: 0}\n", "lanes >= 1"),
    ("model: gs\nparams: {lanes: 8, e: 3}\n", "e dividing lanes"),
    ("model: gs\nparams: {layout: diagonal}\n", "unknown GS-engine layout 'diagonal'"),
    ("model: gs\nparams: {clock_hz: .nan}\n", "params.clock_hz = nan is out of range"),
    ("model: gs\nparams: {clock_hz: .inf}\n", "params.clock_hz = inf is out of range"),
    ("model: gs\nparams: {clock_hz: fast}\n", "params.clock_hz must be float, got 'fast'"),
    ("model: gs\nparams: {lanes: []}\n", "params.lanes is an empty list"),
    ("model: gs\nparams: {lanes: [8, x]}\n", "params.lanes must be int, got 'x'"),
    ("model: gs\nparams: [lanes, 8]\n", "'params' must be a mapping"),
    ("model: gs\nparams: 8\n", "'params' must be a mapping"),
    ("model: tpu\n", "unknown model 'tpu'; one of csph"),
    ("name: x\n", "'model' is missing"),
    ("model: [gs]\n", "'model' must be text"),
    ("model: gs\nname: 7\n", "'name' must be text"),
    ("model: gs\nname: 'two words'\n", "'name' 'two words' must be 1-64 letters"),
    ("model: gs\nname: ''\n", "'name' '' must be 1-64 letters"),
    ("model: gs\nlanes: 8\n", "unknown key 'lanes'; allowed: name, model"),
    ("model: gs\nenergy: 45nm\n", "energy '45nm' is neither a shipped table"),
    ("model: gs\nenergy: 5\n", "'energy' must be text"),
    ("model: gs\ndescription: [a]\n", "'description' must be text"),
    ("- model: gs\n", "must be a mapping with keys name, model"),
    ("just text\n", "must be a mapping with keys"),
    ("", "must be a mapping with keys"),
    ("model: gs\nparams: {lanes: [8\n", "not valid YAML"),
    ("model: scnn\nparams: {merge: maybe}\n", "params.merge must be bool, got 'maybe'"),
    ("model: eie\nparams: {n_pe: 6.5}\n", "params.n_pe must be int or null, got 6.5"),
    ("model: systolic\nparams: {dataflow: rs}\n", "dataflow"),
    ("!!python/object/apply:os.system ['echo hi']\n", "not valid YAML"),
]


@pytest.mark.parametrize("text, says", MALFORMED)
def test_a_malformed_machine_file_gives_one_line_naming_the_field(tmp_path, text, says):
    path = tmp_path / "machine.yaml"
    path.write_text(text)
    out = runner.invoke(app, ["simulate", str(path), "--workload", "eie:NT-We"])
    assert out.exit_code == 2, out.output
    assert says in out.output and "Traceback" not in out.output, out.output
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert f"machine file {path}" in out.output


@pytest.mark.parametrize("typed, says", [
    ("gs(lanes)", "'lanes' is not key=value"),
    ("gs(lanes=8,e=1)", "holds two '='; separate parameters with ';'"),
    ("gs(lanes=8", "is not MODEL or MODEL(key=value"),
    ("gs(lanes=8,16)", "describes 2 machines"),
    ("nope", "unknown accelerator 'nope'"),
    ("missing.yaml", "machine file missing.yaml: no such file"),
])
def test_typed_machine_errors_are_one_line(typed, says):
    out = runner.invoke(app, ["simulate", typed, "--workload", "eie:NT-We"])
    assert out.exit_code == 2 and says in out.output and "Traceback" not in out.output, out.output


@pytest.mark.slow
def test_a_sweep_over_two_machine_parameters_stores_a_column_each(tmp_path):
    cfg = SweepConfig(patterns=("gs:8:1",), sparsities=(0.75,), formats=("csr",),
                      accelerators=("gs(lanes=8,16;spm_elems=32768,65536)",),
                      pruning=Pruning(steps=0), cpu_batch=0)
    run_sweep(cfg, tmp_path)
    with ResultStore(tmp_path / "sweep.sqlite") as store:
        rows = [r for r in store.rows() if r.kind == "accelerator"]
    columns = {r.target for r in rows}
    assert columns == {f"gs(lanes={b},spm_elems={s})" for b in (8, 16) for s in (32768, 65536)}
    for r in rows:
        assert r.config["params"]["lanes"] == int(r.target.split("lanes=")[1].split(",")[0])
    cycles = {r.target: r.result["cycles"] for r in rows if r.pattern == "gs:8:1"}
    assert cycles["gs(lanes=16,spm_elems=32768)"] < cycles["gs(lanes=8,spm_elems=32768)"]
    # the report answers with the (pattern, configuration) pair the store says is fastest
    from sparsegrain.report.render import answer_sentence
    from sparsegrain.report.summary import summarize

    with ResultStore(tmp_path / "sweep.sqlite") as store:
        summary = summarize(store.rows())
    times = {(r.pattern, r.target): r.result["time_s"] for r in rows if r.status == "ok"}
    pattern, machine = min(times, key=lambda k: (times[k], k[0] != "dense"))
    said = answer_sentence(summary, 100.0)  # a budget every point is within
    assert f"on {machine}, {times[pattern, machine] * 1e6:.3g} us" in said  # digits-cnn: us


@pytest.mark.slow
def test_a_machine_that_declines_layers_does_not_win_on_time(tmp_path):
    """A scratchpad too small for some layers' input columns: that GS engine runs fewer layers,
    so its summed time is less, and the answer must not call it the fastest."""
    from sparsegrain.report.render import answer_sentence
    from sparsegrain.report.summary import summarize

    cfg = SweepConfig(patterns=("gs:8:1",), sparsities=(0.75,), formats=("csr",),
                      accelerators=("gs", "gs(spm_elems=150)"), pruning=Pruning(steps=0),
                      cpu_batch=0)
    run_sweep(cfg, tmp_path)
    with ResultStore(tmp_path / "sweep.sqlite") as store:
        summary = summarize(store.rows())
    assert len(summary.ran["gs(spm_elems=150)"]) < len(summary.ran["gs"])
    small = summary.dense.accel["gs(spm_elems=150)"]["time_s"]
    assert small < summary.dense.accel["gs"]["time_s"]
    said = answer_sentence(summary, 100.0)
    assert "on gs, " in said and "spm_elems=150" not in said
