"""Bad input through the command line and the Python API: every case is one error line (on
stderr, nothing on stdout, exit status 2 on the command line) that says what was wrong and what
is allowed, never a traceback or a warning besides, and leaves the files around it alone.

The cases are built from what users mistype (patterns, sparsities, formats, files, models,
folders), crossed with the commands that take each, plus files that are damaged or hostile.
"""

from __future__ import annotations

import os
import pickle
import re
import sqlite3
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import sparsegrain as sg
from sparsegrain.cli import app

CANARY = "sparsegrain_payload_ran"


class Payload:
    """A pickle that would create a file if anything unpickled it."""

    def __reduce__(self):
        return (os.system, (f"touch {CANARY}",))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """A folder of good, damaged and hostile inputs, named by what they are."""
    d = tmp_path_factory.mktemp("inputs")
    torch.manual_seed(0)
    torch.save({"fc.weight": torch.randn(16, 32)}, d / "good.pt")
    nan = torch.randn(16, 32)
    nan[0, 0] = float("nan")
    torch.save({"fc.weight": nan}, d / "nan.pt")
    torch.save(torch.nn.Linear(4, 4), d / "module.pt")
    with open(d / "payload.pt", "wb") as f:
        pickle.dump(Payload(), f)
    with open(d / "payload.npy", "wb") as f:
        pickle.dump(Payload(), f)
    (d / "text.pt").write_text("not a tensor file")
    (d / "empty.pt").write_bytes(b"")
    (d / "folder.pt").mkdir()
    np.save(d / "acts_nan.npy", np.array([1.0, np.nan] + [0.0] * 30, dtype=np.float32))
    np.save(d / "acts_short.npy", np.ones(3, dtype=np.float32))
    (d / "acts.xyz").write_text("1 2 3")
    (d / "raises.py").write_text("raise RuntimeError('broken on import')\n")
    (d / "notwl.py").write_text("def workload():\n    return 42\nvalue = 3\n")
    (d / "energy.yaml").write_text("::: not yaml :::\n- [")
    for name, body in (("garbage", b"this is not sqlite" * 100), ("empty", b"")):
        (d / f"store_{name}").mkdir()
        (d / f"store_{name}" / "sweep.sqlite").write_bytes(body)
    db = d / "store_truncated" / "sweep.sqlite"
    db.parent.mkdir()
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t (x)")
    con.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 200)
    con.commit()
    con.close()
    db.write_bytes(db.read_bytes()[:3000])
    (d / "a_file").write_text("I am a file, not a folder")
    return d


BAD_PATTERNS = ["", ",", "nope", "nm", "nm:2", "nm:5:4", "nm:0:4", "nm:2:x", "gs:b:e", "gs:8:3",
                "gs:0:1", "block:0x4", "block:4", "block:4x4x4", "csp:0", "csp:-1",
                "vector:norm=l7", "nm:2:4:x=1", "unstructured:3", "pebalanced:0", "bank:0"]
BAD_SPARSITIES = ["-0.1", "1", "1.5", "nan", "inf", "abc"]
#: (format string, what was wrong, what is allowed)
BAD_FORMATS = [("nope", "unknown format 'nope'", "valid: .*csr"),
               ("csr:3", "malformed format 'csr:3'", r"form: csr\["),
               ("bcsr:0x0", "block_rows .*got 0", "positive integer"),
               ("eie:0", "n_pe .*got 0", "positive integer"),
               ("bcsr:4x", "malformed format 'bcsr:4x'", "form: bcsr:BLOCK_ROWS:BLOCK_COLS"),
               ("csr:x=1", "takes no parameter x", "it takes: value_bits"),
               ("gs:8:0", r"\be must be .*got 0", "positive integer"),
               ("nm:0:4", r"\bn must be .*got 0", "positive integer")]
BAD_BUDGETS = ["0", "-1", "abc", "nan", "inf", ","]

#: what each kind of bad value is allowed to be, as the error must say it
PATTERN_FORMS = r"valid forms: |forms for \w+: "
SPARSITY_RANGE = r"\[0, 1\)"
WEIGHT_FILES = r"give a .*\.safetensors"
OUT_FOLDER = "exists and is not a folder"
SWEEP_FIRST = r"run `sparsegrain tradeoff --out "


#: where the inputs folder goes in a case's arguments (filled in when the case runs)
F = "{inputs}"


def cases() -> list[tuple[list[str], str, str]]:
    """(arguments, what was wrong, what is allowed) for every case: the error must match both
    regular expressions (case-insensitive). Where the rule is that a path exists, is a folder or
    can be created, or that a name is given once, an error naming that rule says what is
    allowed."""
    files = Path(F)
    good = str(files / "good.pt")
    out: list[tuple[list[str], str, str]] = []
    quick_sweep = ["tradeoff", "--steps", "0", "--accelerators", "", "--formats", "csr",
                   "--sparsity", "0.5"]
    for p in BAD_PATTERNS:
        wrong = (rf"(unknown|malformed) pattern '{re.escape(p)}'|no pattern given|"
                 "pattern must be a non-empty string")
        out += [(["inspect", good, "-p", p, "-s", "0.5"], wrong, PATTERN_FORMS),
                (["encode", good, "-p", p, "-s", "0.5"], wrong, PATTERN_FORMS),
                ([*quick_sweep, "--patterns", p, "--out", "o"], wrong, PATTERN_FORMS),
                (["sensitivity", "-p", p, "--out", "o"], wrong, PATTERN_FORMS),
                (["bench", "--shape", "64x64", "--pattern", p], wrong, PATTERN_FORMS)]
        if p:
            out.append((["simulate", "eie", "--weights", good, "--pattern", p, "--sparsity",
                         "0.5"], wrong, PATTERN_FORMS))
    for s in BAD_SPARSITIES:
        wrong = rf"got '?{re.escape(s)}\b|sparsity '?{re.escape(s)}'? is"
        out += [(["inspect", good, "-s", s], wrong, SPARSITY_RANGE),
                (["encode", good, "-p", "unstructured", "-s", s], wrong, SPARSITY_RANGE),
                ([*quick_sweep[:-1], s, "--patterns", "unstructured", "--out", "o"], wrong,
                 SPARSITY_RANGE),
                (["sensitivity", "--sparsity", s, "--out", "o"], wrong, SPARSITY_RANGE),
                (["bench", "--shape", "64x64", "--sparsity", s], wrong, SPARSITY_RANGE),
                (["simulate", "eie", "--weights", good, "--sparsity", s], wrong, SPARSITY_RANGE)]
    for f, wrong, allowed in BAD_FORMATS:
        out += [(["encode", good, "-f", f], wrong, allowed),
                ([*quick_sweep[:5], "--formats", f, "--out", "o"], wrong, allowed)]
    for name, wrong, allowed in (
            ("missing.pt", "no weight file or model named", WEIGHT_FILES),
            ("folder.pt", "folder.pt is a folder without", WEIGHT_FILES),
            ("empty.pt", "empty.pt: cannot read (weights|tensors)", WEIGHT_FILES),
            ("text.pt", "text.pt: cannot read (weights|tensors)", WEIGHT_FILES),
            ("payload.pt", "payload.pt: cannot read (weights|tensors)", WEIGHT_FILES),
            ("module.pt", "pickled Python objects", r"torch\.save\(model\.state_dict\(\)"),
            ("nan.pt", "NaN or inf", "give finite weights")):
        path = str(files / name)
        out += [(["inspect", path], wrong, allowed), (["encode", path], wrong, allowed),
                (["simulate", "eie", "--weights", path], wrong, allowed)]
    for model, wrong, allowed in (
            ("", "a model is .*got ''", r"FILE\.py:NAME"),
            ("nope", "unknown model 'nope'", "valid: .*digits-cnn"),
            ("x.py:w", "workload file x.py", "does not exist"),
            # a failure in the user's own code: its cause is what to mend
            (f"{files / 'raises.py'}:workload", r"importing .*raises\.py failed",
             "RuntimeError: broken on import"),
            (f"{files / 'notwl.py'}:workload", r"notwl\.py:workload is an? int",
             r"not a sparsegrain\.Workload \(or a function returning one\)"),
            (f"{files / 'notwl.py'}:value", r"notwl\.py:value is an? int",
             r"not a sparsegrain\.Workload \(or a function returning one\)"),
            (f"{files / 'notwl.py'}:missing", "defines no 'missing'",
             "should be a Workload or a function returning one"),
            ("os.path:join", r"os\.path:join", r"Workload"),
            ("no_such_module_xyz:w", "no_such_module_xyz", "cannot import module")):
        out += [([*quick_sweep, "--model", model, "--out", "o"], wrong, allowed),
                (["sensitivity", "--model", model, "--out", "o"], wrong, allowed)]
    for b in BAD_BUDGETS:
        wrong = "no budget given" if b == "," else f"budget '{re.escape(b)}'"
        out += [([*quick_sweep, "--budget", b, "--out", "o"], wrong, "positive number"),
                (["report", str(files / "store_garbage"), "--budget", b], wrong,
                 "positive number")]
    out += [([*quick_sweep, "--accelerators", "nope", "--out", "o"], "unknown accelerator 'nope'",
             "valid: csph"),
            ([*quick_sweep, "--accelerators", "eie,eie", "--out", "o"], "accelerator .*eie",
             "listed twice"),
            ([*quick_sweep, "--patterns", "unstructured,unstructured", "--out", "o"],
             "pattern .*unstructured", "listed twice"),
            ([*quick_sweep, "--seeds", "a", "--out", "o"], "seeds .*got 'a'",
             "comma-separated integers"),
            ([*quick_sweep, "--seeds", "1.5", "--out", "o"], r"seeds .*got '1\.5'",
             "comma-separated integers"),
            ([*quick_sweep[:2], "-1", *quick_sweep[3:], "--out", "o"], "steps .*got -1",
             r"0 \(one-shot\) or >= 2"),
            ([*quick_sweep[:2], "1", *quick_sweep[3:], "--out", "o"], "steps .*got 1",
             r"0 \(one-shot\) or >= 2"),
            ([*quick_sweep, "--allocation", "best", "--out", "o"], "unknown allocation 'best'",
             "valid: uniform"),
            ([*quick_sweep, "--cpu-batch", "-1", "--out", "o"], "cpu_batch .*got -1",
             "integer >= 0"),
            ([*quick_sweep, "--resume", "--force", "--out", "o"], "--resume and --force",
             "exclude each other"),
            ([*quick_sweep, "--workers", "0", "--out", "o"], "workers .*got 0",
             "positive integer"),
            ([*quick_sweep, "--workers", "-2", "--out", "o"], "workers .*got -2",
             "positive integer"),
            ([*quick_sweep, "--workers", "2", "--ray", "local", "--out", "o"],
             "--workers and --ray", "exclude each other"),
            ([*quick_sweep, "--device", "tpu", "--out", "o"], "unknown device 'tpu'",
             "valid: cpu"),
            ([*quick_sweep, "--ray", "127.0.0.1:1", "--out", "o"],
             "cannot reach the Ray cluster at 127.0.0.1:1",
             r"ray start --head\) or use --ray local"),
            ([*quick_sweep, "--ray", "nowhere.invalid:6379", "--out", "o"],
             "cannot reach the Ray cluster at nowhere.invalid:6379",
             r"ray start --head\) or use --ray local"),
            ([*quick_sweep, "--out", str(files / "a_file")], "a_file", OUT_FOLDER),
            ([*quick_sweep, "--out", "/proc/sparsegrain/out"], "/proc/sparsegrain/out",
             "cannot create output folder"),
            (["sensitivity", "--layers", "nope", "--out", "o"], "'nope' is not a prunable layer",
             "prunable: conv2"),
            (["sensitivity", "--out", str(files / "a_file")], "a_file", OUT_FOLDER)]
    for study in ("csp", "gs", "granularity", "sparten"):
        flags = ["--quick"] if study == "sparten" else ["--quick", "--no-minilm"]
        out += [(["reproduce", study, *flags, "--out", str(files / "a_file")], "a_file",
                 OUT_FOLDER),
                (["reproduce", study, *flags, "--out", "/proc/sg/x"], "/proc/sg/x",
                 "cannot create output folder")]
    for study in ("gs", "granularity"):
        out += [(["reproduce", study, "--quick", "--no-minilm", "--from", str(files / "nowhere"),
                  "--out", "o"], "nowhere holds no sweep store", SWEEP_FIRST)]
    for study in ("sparten", "scnn"):
        out += [(["reproduce", study, "--quick", "--act-density", "0", "--out", "o"],
                 r"act_density .*got 0\.0", r"in \(0, 1\]"),
                (["reproduce", study, "--quick", "--act-density", "1.5", "--out", "o"],
                 r"act_density .*got 1\.5", r"in \(0, 1\]")]
    out += [(["reproduce", "csp", "--quick", "--no-minilm", "--sparsities", "2", "--out", "o"],
             r"sparsity .*got 2\.0", SPARSITY_RANGE),
            (["reproduce", "csp", "--quick", "--no-minilm", "--chunk", "0", "--out", "o"],
             "chunk .*got 0", "1 to 2048"),
            (["reproduce", "gs", "--quick", "--no-minilm", "--lanes", "0", "--out", "o"],
             "got lanes=0", "lanes >= 1"),
            (["reproduce", "granularity", "--quick", "--no-minilm", "--density", "0", "--out",
              "o"], r"density .*got 0\.0", r"in \(0, 1\]"),
            (["reproduce", "eie", "--quick", "--layers", "nope", "--out", "o"],
             "unknown EIE layer nope", "valid: Alex-6"),
            (["reproduce", "eie", "--quick", "--out", str(files / "a_file")], "a_file",
             OUT_FOLDER)]
    for store, wrong, allowed in (
            ("store_garbage", "not a readable sweep store", "move it away, or rerun the sweep"),
            ("store_truncated", "not a readable sweep store", "move it away, or rerun the sweep"),
            ("store_empty", "records no sweep", SWEEP_FIRST),
            ("missing_dir", "holds no sweep store", SWEEP_FIRST),
            ("a_file", "a_file", "is a file, not a folder|is not a folder")):
        out.append((["report", str(files / store)], wrong, allowed))
    out += [(["workloads", ""], "unknown workload ''", "valid: alexnet"),
            (["workloads", "nope"], "unknown workload 'nope'", "valid: alexnet"),
            (["simulate", "nope", "--workload", "eie:Alex-8"], "unknown accelerator 'nope'",
             "valid: csph"),
            (["simulate", "eie"], "exactly one", r"workload \(e\.g\. eie:Alex-8\) or weights"),
            (["simulate", "eie", "--workload", "eie:Alex-8", "--weights", good], "exactly one",
             r"workload \(e\.g\. eie:Alex-8\) or weights"),
            (["simulate", "eie", "--workload", "nope:x"], "unknown workload 'nope'",
             "valid: alexnet"),
            (["simulate", "eie", "--workload", "eie:nope"], "no layer 'nope'", "layers: Alex-6"),
            (["simulate", "eie", "--layer", "fc"], "--layer picks a layer of --weights",
             "give --weights FILE too"),
            (["simulate", "eie", "--weights", good, "--layer", "nope"], "no layer 'nope'",
             "layers: fc.weight"),
            (["simulate", "eie", "--weights", good, "-p", "x"], "parameter 'x'",
             "must be key=value"),
            (["simulate", "eie", "--weights", good, "-p", "n_pe=0"], "n_pe .*got 0",
             "integer >= 1"),
            (["simulate", "eie", "--weights", good, "--pattern", "unstructured"],
             "needs (--)?sparsity", SPARSITY_RANGE),
            (["simulate", "eie", "--weights", good, "--act-density", "2"],
             r"act_density .*got 2\.0", r"in \[0, 1\]"),
            (["simulate", "eie", "--weights", good, "--activations",
              str(files / "payload.npy")], r"payload\.npy.*(not a (readable|valid)|cannot read)",
             r"\bgive\b|valid:"),
            (["simulate", "eie", "--weights", good, "--activations",
              str(files / "payload.pt")], r"payload\.pt.*(not a (readable|valid)|cannot read)",
             r"\bgive\b|valid:"),
            (["simulate", "eie", "--weights", good, "--activations",
              str(files / "acts_nan.npy")], "NaN or inf", "give finite numbers"),
            (["simulate", "eie", "--weights", good, "--activations",
              str(files / "acts_short.npy")], r"got \(3,\)", r"shaped \(32,\) or \(N, 32\)"),
            (["simulate", "eie", "--weights", good, "--activations", str(files / "acts.xyz")],
             r"unknown type '\.xyz'", r"valid: \.npy"),
            (["simulate", "eie", "--weights", good, "--activations", "missing.npy"],
             r"activations file missing\.npy", "does not exist"),
            (["simulate", "eie", "--weights", good, "--energy-table", "missing.yaml"],
             "'missing.yaml' is neither a YAML file nor a shipped table", "shipped: cacti7"),
            (["simulate", "eie", "--weights", good, "--energy-table",
              str(files / "energy.yaml")], "energy.yaml' is malformed", "expected a mapping"),
            (["simulate", "csph", "--weights", good, "--pattern", "unstructured", "--sparsity",
              "0.5"], "csph cannot run this layer", "csph runs csp:32 masks only"),
            (["bench", "--shape", "1000000x1000000"], "needs about .* GiB",
             "GiB of memory is available"),
            (["bench", "--shape", "0x4"], "got '0x4'", "ROWSxCOLS with positive sizes"),
            (["bench", "--shape", "4x"], "got '4x'", "ROWSxCOLS with positive sizes"),
            (["bench", "--shape", "axb"], "got 'axb'", "ROWSxCOLS with positive sizes"),
            (["bench", "--batch", "0"], "batch .*got '0'", "positive integers"),
            (["bench", "--batch", "a"], "batch .*got 'a'", "comma-separated integers"),
            (["bench", "--reps", "0"], "reps .*got 0", "at least 1"),
            (["inspect", good, "--layers", "nope"], "matching 'nope'", "layers: fc.weight"),
            (["encode", good, "-p", "unstructured"], "--pattern needs --sparsity",
             "without a pattern the weights' own nonzeros are kept"),
            (["encode", good, "--layers", "nope"], "matching 'nope'", "layers: fc.weight"),
            (["inspect", "nope_network"], "no weight file or model named 'nope_network'",
             r"give a .*catalog network \(alexnet"),
            (["encode", "nope_network"], "no weight file or model named 'nope_network'",
             r"give a .*catalog network \(alexnet")]
    return out


#: warnings Python shows a user by default (the others are ignored outside development)
HIDDEN = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


def tree(root: Path) -> dict[str, tuple[int, float]]:
    """Every file under ``root`` with its size and modification time."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime)
            for p in root.rglob("*") if p.is_file() and not p.is_symlink()}


CASES = cases()


def test_the_suite_is_large():
    assert len(CASES) >= 250


@pytest.mark.parametrize(("args", "wrong", "allowed"), CASES,
                         ids=[" ".join(a).replace(F, "")[:60] for a, _, _ in CASES])
def test_each_bad_command_is_one_clear_line(args, wrong, allowed, files, tmp_path, monkeypatch):
    args = [a.replace(F, str(files)) for a in args]
    monkeypatch.chdir(tmp_path)
    inputs_before = tree(files)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for category in HIDDEN:
            warnings.simplefilter("ignore", category)
        res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), (args, res.output)
    assert "Traceback" not in res.stdout + res.stderr, (args, res.output)
    # what a user sees on stderr: the warnings Python would print there, then the error
    shown = [str(w.message) for w in caught] + res.stderr.splitlines()
    lines = [line for line in shown if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), (args, lines)
    assert not res.stdout.strip(), (args, res.stdout)
    assert re.search(wrong, lines[0], re.I), (args, "does not say what was wrong", wrong, lines[0])
    assert re.search(allowed, lines[0], re.I), (args, "does not say what is allowed", allowed,
                                                  lines[0])
    assert not list(tmp_path.iterdir()), f"{args} left {list(tmp_path.iterdir())}"
    assert tree(files) == inputs_before
    assert not (tmp_path / CANARY).exists() and not Path(CANARY).exists()


#: (call, what was wrong, what is allowed), as for the command line
API_CASES = [
    (lambda: sg.pattern("nm:5:4"), "malformed pattern 'nm:5:4'", "1 <= N <= M"),
    (lambda: sg.pattern(3), "pattern must be a non-empty string", "valid forms: "),
    (lambda: sg.pattern("unstructured").mask(torch.randn(4, 4), 1.5), r"sparsity .*got 1\.5",
     SPARSITY_RANGE),
    (lambda: sg.pattern("unstructured").mask([[1.0]], 0.5), "got list", "must be a torch.Tensor"),
    (lambda: sg.pattern("unstructured").mask(torch.randn(4), 0.5), r"shape \(4\)",
     "2-D .* 3-D .* or 4-D"),
    (lambda: sg.pattern("unstructured").mask(torch.full((4, 4), float("nan")), 0.5),
     "NaN or inf", "finite"),
    (lambda: sg.encode(torch.randn(4, 4), "nope"), "unknown format 'nope'", "valid: .*csr"),
    (lambda: sg.encode(torch.randn(4, 4), "csr", mask=torch.rand(4, 4)),
     "values other than 0 and 1", r"boolean \(True = kept\) or 0/1"),
    (lambda: sg.encode(torch.randn(4, 4), "csr", mask=torch.ones(3, 3, dtype=torch.bool)),
     r"mask shape \(3, 3\)", r"differs from weight shape \(4, 4\)"),
    (lambda: sg.encode(torch.randn(4, 4), "csr", value_bits=-5), "value_bits .*got -5",
     "positive integer"),
    (lambda: sg.encode(torch.randn(4, 4), "csr", nope=3), "takes no parameter nope",
     "it takes: value_bits"),
    (lambda: sg.encode(torch.full((4, 4), 2**30, dtype=torch.int64), "csr"), r"beyond 2\^24",
     "convert them first"),
    (lambda: sg.encode(torch.full((4, 4), float("inf")), "csr"), "NaN or inf", "finite"),
    (lambda: sg.simulate("eie", torch.randn(8, 8), np.full(8, np.nan, dtype=np.float32)),
     "NaN or inf", "give finite numbers"),
    (lambda: sg.simulate("eie", torch.randn(8, 8), np.ones(3, dtype=np.float32)),
     r"got \(3,\)", r"shaped \(8,\) or \(N, 8\)"),
    (lambda: sg.simulate("nope", torch.randn(8, 8)), "unknown accelerator 'nope'", "valid: csph"),
    (lambda: sg.simulate("eie", torch.full((8, 8), float("nan"))), "NaN or inf",
     "give finite numbers"),
    (lambda: sg.Workload(model=3, evaluate=len, sample_inputs=None), "got int",
     r"must be a torch\.nn\.Module"),
    (lambda: sg.Workload(model=torch.nn.Linear(2, 2), evaluate=3, sample_inputs=None), "got int",
     "must be a function"),
    (lambda: sg.Workload(model=torch.nn.Linear(2, 2), evaluate=len, sample_inputs=None,
                         prunable="fc"), "prunable", "list of module names or globs"),
    (lambda: sg.tradeoff("nope"), "unknown model 'nope'", "valid: .*digits-cnn"),
    (lambda: sg.tradeoff("digits-cnn", patterns="nope"), "unknown pattern 'nope'",
     "valid forms: "),
    (lambda: sg.tradeoff("digits-cnn", sparsities=(2.0,)), r"sparsity 2\.0", SPARSITY_RANGE),
    (lambda: sg.tradeoff("digits-cnn", budgets=(-1,)), "budget -1", "positive number"),
    (lambda: sg.tradeoff("digits-cnn", allocation="best"), "unknown allocation 'best'",
     "valid: uniform"),
]


@pytest.mark.parametrize("i", range(len(API_CASES)))
def test_each_bad_call_is_one_clear_value_error(i, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    call, wrong, allowed = API_CASES[i]
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, message
    assert re.search(wrong, message, re.I), ("does not say what was wrong", wrong, message)
    assert re.search(allowed, message, re.I), ("does not say what is allowed", allowed, message)
    assert not list(tmp_path.iterdir())
