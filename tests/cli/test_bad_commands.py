"""Bad input through the command line and the Python API: every case is one clear error line
(exit status 2 on the command line), never a traceback, and leaves the files around it alone.

The cases are built from what users mistype (patterns, sparsities, formats, files, models,
folders), crossed with the commands that take each, plus files that are damaged or hostile.
"""

from __future__ import annotations

import os
import pickle
import re
import sqlite3
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
BAD_FORMATS = ["nope", "csr:3", "bcsr:0x0", "eie:0", "bcsr:4x", "csr:x=1", "gs:8:0", "nm:0:4"]
BAD_BUDGETS = ["0", "-1", "abc", "nan", "inf", ","]


#: where the inputs folder goes in a case's arguments (filled in when the case runs)
F = "{inputs}"


def cases() -> list[tuple[list[str], str]]:
    """(arguments, a fragment the error must hold) for every case."""
    files = Path(F)
    good = str(files / "good.pt")
    out: list[tuple[list[str], str]] = []
    quick_sweep = ["tradeoff", "--steps", "0", "--accelerators", "", "--formats", "csr",
                   "--sparsity", "0.5"]
    for p in BAD_PATTERNS:
        frag = "pattern"
        out += [(["inspect", good, "-p", p, "-s", "0.5"], frag),
                (["encode", good, "-p", p, "-s", "0.5"], frag),
                ([*quick_sweep, "--patterns", p, "--out", "o"], frag),
                (["sensitivity", "-p", p, "--out", "o"], frag),
                (["bench", "--shape", "64x64", "--pattern", p], frag)]
        if p:
            out.append((["simulate", "eie", "--weights", good, "--pattern", p, "--sparsity",
                         "0.5"], frag))
    for s in BAD_SPARSITIES:
        out += [(["inspect", good, "-s", s], "sparsity"),
                (["encode", good, "-p", "unstructured", "-s", s], "sparsity"),
                ([*quick_sweep[:-1], s, "--patterns", "unstructured", "--out", "o"], "sparsity"),
                (["sensitivity", "--sparsity", s, "--out", "o"], "sparsity"),
                (["bench", "--shape", "64x64", "--sparsity", s], "sparsity"),
                (["simulate", "eie", "--weights", good, "--sparsity", s], "sparsity")]
    for f in BAD_FORMATS:
        out += [(["encode", good, "-f", f], f.split(":")[0]),
                ([*quick_sweep[:5], "--formats", f, "--out", "o"], f.split(":")[0])]
    for name, frag in (("missing.pt", "no weight file"), ("folder.pt", "folder.pt"),
                       ("empty.pt", "empty.pt"), ("text.pt", "text.pt"),
                       ("payload.pt", "payload.pt"), ("module.pt", "state_dict"),
                       ("nan.pt", "NaN")):
        path = str(files / name)
        out += [(["inspect", path], frag), (["encode", path], frag),
                (["simulate", "eie", "--weights", path], frag)]
    for model, frag in (("", "model"), ("nope", "unknown model"), ("x.py:w", "does not exist"),
                        (f"{files / 'raises.py'}:workload", "broken on import"),
                        (f"{files / 'notwl.py'}:workload", "not a sparsegrain.Workload"),
                        (f"{files / 'notwl.py'}:value", "not a sparsegrain.Workload"),
                        (f"{files / 'notwl.py'}:missing", "defines no"),
                        ("os.path:join", "os.path:join"),
                        ("no_such_module_xyz:w", "cannot import")):
        out += [([*quick_sweep, "--model", model, "--out", "o"], frag),
                (["sensitivity", "--model", model, "--out", "o"], frag)]
    for b in BAD_BUDGETS:
        out += [([*quick_sweep, "--budget", b, "--out", "o"], "budget"),
                (["report", str(files / "store_garbage"), "--budget", b], "budget")]
    out += [([*quick_sweep, "--accelerators", "nope", "--out", "o"], "unknown accelerator"),
            ([*quick_sweep, "--accelerators", "eie,eie", "--out", "o"], "twice"),
            ([*quick_sweep, "--patterns", "unstructured,unstructured", "--out", "o"], "twice"),
            ([*quick_sweep, "--seeds", "a", "--out", "o"], "seed"),
            ([*quick_sweep, "--seeds", "1.5", "--out", "o"], "seed"),
            ([*quick_sweep[:2], "-1", *quick_sweep[3:], "--out", "o"], "steps"),
            ([*quick_sweep[:2], "1", *quick_sweep[3:], "--out", "o"], "steps"),
            ([*quick_sweep, "--allocation", "best", "--out", "o"], "allocation"),
            ([*quick_sweep, "--cpu-batch", "-1", "--out", "o"], "cpu_batch"),
            ([*quick_sweep, "--resume", "--force", "--out", "o"], "exclude"),
            ([*quick_sweep, "--workers", "0", "--out", "o"], "workers"),
            ([*quick_sweep, "--workers", "-2", "--out", "o"], "workers"),
            ([*quick_sweep, "--workers", "2", "--ray", "local", "--out", "o"], "exclude"),
            ([*quick_sweep, "--device", "tpu", "--out", "o"], "unknown device"),
            ([*quick_sweep, "--ray", "127.0.0.1:1", "--out", "o"], "cannot reach the Ray cluster"),
            ([*quick_sweep, "--ray", "nowhere.invalid:6379", "--out", "o"],
             "cannot reach the Ray cluster"),
            ([*quick_sweep, "--out", str(files / "a_file")], "not a folder"),
            ([*quick_sweep, "--out", "/proc/sparsegrain/out"], "cannot create"),
            (["sensitivity", "--layers", "nope", "--out", "o"], "not a prunable layer"),
            (["sensitivity", "--out", str(files / "a_file")], "a_file")]
    for study in ("csp", "gs", "granularity", "sparten"):
        flags = ["--quick"] if study == "sparten" else ["--quick", "--no-minilm"]
        out += [(["reproduce", study, *flags, "--out", str(files / "a_file")], "a_file"),
                (["reproduce", study, *flags, "--out", "/proc/sg/x"], "cannot create")]
    for study in ("gs", "granularity"):
        out += [(["reproduce", study, "--quick", "--no-minilm", "--from", str(files / "nowhere"),
                  "--out", "o"], "holds no sweep store")]
    out += [(["reproduce", "sparten", "--quick", "--act-density", "0", "--out", "o"],
             "act_density"),
            (["reproduce", "sparten", "--quick", "--act-density", "1.5", "--out", "o"],
             "act_density")]
    out += [(["reproduce", "csp", "--quick", "--no-minilm", "--sparsities", "2", "--out", "o"],
             "sparsit"),
            (["reproduce", "csp", "--quick", "--no-minilm", "--chunk", "0", "--out", "o"], "chunk"),
            (["reproduce", "gs", "--quick", "--no-minilm", "--lanes", "0", "--out", "o"], "lanes"),
            (["reproduce", "granularity", "--quick", "--no-minilm", "--density", "0", "--out",
              "o"], "density"),
            (["reproduce", "eie", "--quick", "--layers", "nope", "--out", "o"], "nope"),
            (["reproduce", "eie", "--quick", "--out", str(files / "a_file")], "a_file")]
    for store, frag in (("store_garbage", "not a readable sweep store"),
                        ("store_truncated", "not a readable sweep store"),
                        ("store_empty", "records no sweep"), ("missing_dir", "holds no sweep store"),
                        ("a_file", "holds no sweep store")):
        out.append((["report", str(files / store)], frag))
    out += [(["workloads", ""], "unknown workload"), (["workloads", "nope"], "unknown workload"),
            (["simulate", "nope", "--workload", "eie:Alex-8"], "unknown accelerator"),
            (["simulate", "eie"], "exactly one"),
            (["simulate", "eie", "--workload", "eie:Alex-8", "--weights", good], "exactly one"),
            (["simulate", "eie", "--workload", "nope:x"], "unknown workload"),
            (["simulate", "eie", "--workload", "eie:nope"], "nope"),
            (["simulate", "eie", "--layer", "fc"], "--weights"),
            (["simulate", "eie", "--weights", good, "--layer", "nope"], "no layer"),
            (["simulate", "eie", "--weights", good, "-p", "x"], "key=value"),
            (["simulate", "eie", "--weights", good, "-p", "n_pe=0"], "n_pe"),
            (["simulate", "eie", "--weights", good, "--pattern", "unstructured"], "sparsity"),
            (["simulate", "eie", "--weights", good, "--act-density", "2"], "act_density"),
            (["simulate", "eie", "--weights", good, "--activations",
              str(files / "payload.npy")], "payload.npy"),
            (["simulate", "eie", "--weights", good, "--activations",
              str(files / "payload.pt")], "payload.pt"),
            (["simulate", "eie", "--weights", good, "--activations",
              str(files / "acts_nan.npy")], "NaN"),
            (["simulate", "eie", "--weights", good, "--activations",
              str(files / "acts_short.npy")], "inputs"),
            (["simulate", "eie", "--weights", good, "--activations", str(files / "acts.xyz")],
             "unknown type"),
            (["simulate", "eie", "--weights", good, "--activations", "missing.npy"],
             "does not exist"),
            (["simulate", "eie", "--weights", good, "--energy-table", "missing.yaml"], "missing"),
            (["simulate", "eie", "--weights", good, "--energy-table",
              str(files / "energy.yaml")], "energy"),
            (["simulate", "csph", "--weights", good, "--pattern", "unstructured", "--sparsity",
              "0.5"], "csph"),
            (["bench", "--shape", "1000000x1000000"], "GiB"),
            (["bench", "--shape", "0x4"], "shape"), (["bench", "--shape", "4x"], "shape"),
            (["bench", "--shape", "axb"], "shape"), (["bench", "--batch", "0"], "batch"),
            (["bench", "--batch", "a"], "batch"), (["bench", "--reps", "0"], "reps"),
            (["inspect", good, "--layers", "nope"], "nope"),
            (["encode", good, "-p", "unstructured"], "--sparsity"),
            (["encode", good, "--layers", "nope"], "nope"),
            (["inspect", "nope_network"], "nope_network"),
            (["encode", "nope_network"], "nope_network")]
    return out


ERROR_LINE = re.compile(r"^(error|Error)\b.*", re.MULTILINE)


def tree(root: Path) -> dict[str, tuple[int, float]]:
    """Every file under ``root`` with its size and modification time."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime)
            for p in root.rglob("*") if p.is_file() and not p.is_symlink()}


CASES = cases()


def test_the_suite_is_large():
    assert len(CASES) >= 250


@pytest.mark.parametrize(("args", "fragment"), CASES,
                         ids=[" ".join(a)[:60].replace(F, "") for a, _ in CASES])
def test_each_bad_command_is_one_clear_line(args, fragment, files, tmp_path, monkeypatch):
    args = [a.replace(F, str(files)) for a in args]
    monkeypatch.chdir(tmp_path)
    inputs_before = tree(files)
    res = CliRunner().invoke(app, args)
    text = res.output
    assert res.exit_code == 2, (args, text)
    assert "Traceback" not in text and res.exception is None or isinstance(res.exception, SystemExit)
    errors = ERROR_LINE.findall(text)
    assert len(errors) == 1, (args, text)
    assert fragment.lower() in text.lower(), (args, fragment, text)
    assert not list(tmp_path.iterdir()), f"{args} left {list(tmp_path.iterdir())}"
    assert tree(files) == inputs_before
    assert not (tmp_path / CANARY).exists() and not Path(CANARY).exists()


API_CASES = [
    (lambda: sg.pattern("nm:5:4"), "nm"),
    (lambda: sg.pattern(3), "pattern"),
    (lambda: sg.pattern("unstructured").mask(torch.randn(4, 4), 1.5), "sparsity"),
    (lambda: sg.pattern("unstructured").mask([[1.0]], 0.5), "torch.Tensor"),
    (lambda: sg.pattern("unstructured").mask(torch.randn(4), 0.5), "shape"),
    (lambda: sg.pattern("unstructured").mask(torch.full((4, 4), float("nan")), 0.5), "NaN"),
    (lambda: sg.encode(torch.randn(4, 4), "nope"), "unknown format"),
    (lambda: sg.encode(torch.randn(4, 4), "csr", mask=torch.rand(4, 4)), "boolean"),
    (lambda: sg.encode(torch.randn(4, 4), "csr", mask=torch.ones(3, 3, dtype=torch.bool)), "shape"),
    (lambda: sg.encode(torch.randn(4, 4), "csr", value_bits=-5), "value_bits"),
    (lambda: sg.encode(torch.randn(4, 4), "csr", nope=3), "takes no parameter"),
    (lambda: sg.encode(torch.full((4, 4), 2**30, dtype=torch.int64), "csr"), "2^24"),
    (lambda: sg.encode(torch.full((4, 4), float("inf")), "csr"), "NaN or inf"),
    (lambda: sg.simulate("eie", torch.randn(8, 8), np.full(8, np.nan, dtype=np.float32)), "NaN"),
    (lambda: sg.simulate("eie", torch.randn(8, 8), np.ones(3, dtype=np.float32)), "inputs"),
    (lambda: sg.simulate("nope", torch.randn(8, 8)), "unknown accelerator"),
    (lambda: sg.simulate("eie", torch.full((8, 8), float("nan"))), "NaN"),
    (lambda: sg.Workload(model=3, evaluate=len, sample_inputs=None), "nn.Module"),
    (lambda: sg.Workload(model=torch.nn.Linear(2, 2), evaluate=3, sample_inputs=None), "function"),
    (lambda: sg.Workload(model=torch.nn.Linear(2, 2), evaluate=len, sample_inputs=None,
                         prunable="fc"), "prunable"),
    (lambda: sg.tradeoff("nope"), "unknown model"),
    (lambda: sg.tradeoff("digits-cnn", patterns="nope"), "pattern"),
    (lambda: sg.tradeoff("digits-cnn", sparsities=(2.0,)), "sparsity"),
    (lambda: sg.tradeoff("digits-cnn", budgets=(-1,)), "budget"),
    (lambda: sg.tradeoff("digits-cnn", allocation="best"), "allocation"),
]


@pytest.mark.parametrize("i", range(len(API_CASES)))
def test_each_bad_call_is_one_clear_value_error(i, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    call, fragment = API_CASES[i]
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and fragment.lower() in message.lower(), message
    assert not list(tmp_path.iterdir())
