"""The ``sparsegrain`` command line: one sub-command per stage of the pipeline."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup


class OneLineErrors(TyperGroup):
    """The command group, whose usage errors (an option of the wrong type, a missing argument)
    are one line on stderr naming what is allowed, like every other error, instead of click's
    usage block."""

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except typer.TyperException as e:  # click's errors, as typer carries them
            if type(e).__name__ == "NoArgsIsHelpError":  # a bare command: its help, as asked
                e.show()
                sys.exit(e.exit_code)
            sys.exit(fail(usage_message(e)).exit_code)
        except typer.Abort:
            errors.print("aborted")
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


def usage_message(e: typer.TyperException) -> str:
    """Click's message for ``e`` with what the option allows (its help) and where to look."""
    text = e.format_message().rstrip(".")
    given = _input_of(e.__cause__)
    if given is not None:
        text += f" (got {given!r})"
    param = getattr(e, "param", None)
    if param is not None and getattr(param, "help", None):
        text += f"; allowed: {param.help}"
    ctx = getattr(e, "ctx", None)
    if ctx is not None:
        text += f" (see {ctx.command_path} --help)"
    return text


def _input_of(cause: BaseException | None) -> Any:
    """The value the user typed, from the validation error behind a bad option (None if
    there is none to show)."""
    errors_of = getattr(cause, "errors", None)
    try:
        return errors_of()[0]["input"] if callable(errors_of) else None
    except (LookupError, TypeError):
        return None


app = typer.Typer(
    cls=OneLineErrors,
    help="Hardware-aware sparsity: patterns, formats, kernels, accelerator models, trade-offs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich would render "gs:B:E" with an emoji for ":B:"
)
# Piped output (files, CI logs) gets a wide console so tables are not folded at 80 columns.
# emoji=False: pattern strings such as gs:B:E hold ":B:", which rich would turn into an emoji.
console = Console(emoji=False) if sys.stdout.isatty() else Console(width=160, emoji=False)


@app.callback()
def main() -> None:
    """Hardware-aware sparsity: patterns, formats, kernels, accelerator models, trade-offs."""


#: errors go to stderr, so that a command's output piped elsewhere stays clean
errors = Console(stderr=True, emoji=False, width=console.width)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Inside a command: a ValueError (bad input, a refused file) ends it as one line on stderr."""
    try:
        yield
    except ValueError as e:
        raise fail(str(e)) from None


def fail(message: str) -> typer.Exit:
    """Print a one-line error in red on stderr and return the Exit to raise (status 2)."""
    errors.print(f"[bold red]error:[/] {escape(' '.join(message.split()))}", highlight=False,
                  soft_wrap=True)
    return typer.Exit(code=2)


# --- patterns -------------------------------------------------------------------------------


@app.command("patterns")
def patterns_cmd() -> None:
    """List the sparsity patterns with a one-line description each."""
    from . import patterns as patterns_lib
    table = Table(title="sparsity patterns")
    table.add_column("pattern")
    table.add_column("forms")
    table.add_column("rule")
    for kind, cls in patterns_lib.PATTERNS.items():
        table.add_row(kind, ", ".join(cls.forms), cls.summary)
    console.print(table)


def _pattern_list(text: str) -> list[str]:
    """Comma-separated pattern strings; ``all`` means one typical string per pattern."""
    from . import patterns as patterns_lib
    if text.strip().lower() == "all":
        return patterns_lib.examples()
    specs = [p.strip() for p in text.split(",") if p.strip()]
    if not specs:
        raise ValueError(f"no pattern given in {text!r}; valid forms: {patterns_lib.valid_forms()}, "
                         "or all")
    return specs


@app.command("inspect")
def inspect_cmd(
    weights: str = typer.Argument(
        ..., help="weight file (.pt/.npy/.npz/.safetensors), 'minilm[:layer-filter]' or a "
        "catalog network (seeded random weights)"
    ),
    pattern: str = typer.Option("all", "--pattern", "-p", help="pattern string(s), comma-separated, or 'all'"),
    sparsity: float = typer.Option(0.9, "--sparsity", "-s", help="target sparsity in [0, 1)"),
    layers: str = typer.Option(None, "--layers", help="only layers whose name contains this"),
    as_json: bool = typer.Option(False, "--json", help="print machine-readable JSON"),
) -> None:
    """Per layer and pattern: shape, target vs achieved sparsity, kept groups, L1 kept."""
    from . import patterns as patterns_lib
    from .patterns.inspect import inspect_layer
    from .workloads.weights import load_weights

    with one_line_errors():
        patterns_lib.check_sparsity(sparsity)
        specs = [patterns_lib.pattern(s).spec for s in _pattern_list(pattern)]
        named = load_weights(weights, layers)
        reports = [inspect_layer(n, w, s, sparsity) for n, w in named.items() for s in specs]
        if all(r.error for r in reports):
            raise ValueError(f"no pattern tiles any layer: {reports[0].layer}: {reports[0].error}")
    if as_json:
        print(json.dumps([r.to_dict() for r in reports], indent=1))
        return
    table = Table(title=f"{weights}: patterns at target sparsity {sparsity}")
    for col in ("layer", "shape", "pattern", "achieved", "groups kept", "L1 kept"):
        table.add_column(col, justify="left" if col in ("layer", "shape", "pattern") else "right")
    for r in reports:
        if r.error:
            table.add_row(r.layer, r.shape, r.pattern, "[dim]n/a[/]", "", "")
        else:
            table.add_row(r.layer, r.shape, r.pattern, f"{r.achieved:.4f}",
                          f"{r.groups_kept:,}/{r.groups_total:,}", f"{r.l1_kept:.4f}")
    console.print(table)
    for err in dict.fromkeys(r.error for r in reports if r.error):
        console.print(f"[dim]n/a: {err}[/]", highlight=False)
    if len(named) > 1:
        _print_pattern_totals(reports)


def _print_pattern_totals(reports: list) -> None:
    """Whole-model L1 kept per pattern (layers it cannot tile excluded)."""
    table = Table(title="all layers")
    table.add_column("pattern")
    table.add_column("layers tiled", justify="right")
    table.add_column("mean L1 kept", justify="right")
    by: dict[str, list] = {}
    for r in reports:
        by.setdefault(r.pattern, []).append(r)
    for spec, rs in by.items():
        ok = [r for r in rs if r.error is None]
        mean = sum(r.l1_kept for r in ok) / len(ok) if ok else float("nan")
        table.add_row(spec, f"{len(ok)}/{len(rs)}", f"{mean:.4f}")
    console.print(table)


# --- workloads ------------------------------------------------------------------------------


@app.command("workloads")
def workloads_cmd(
    network: str = typer.Argument(None, help="show this network's layers"),
    as_json: bool = typer.Option(False, "--json", help="print machine-readable JSON"),
) -> None:
    """List the catalogued networks, or one network's layers with shapes and densities."""
    from .workloads.catalog import NETWORKS, get_network

    with one_line_errors():
        names = [network] if network is not None else list(NETWORKS)
        nets = {n: get_network(n) for n in names}
    if as_json:
        print(json.dumps({n: [vars(lay) for lay in ls] for n, ls in nets.items()}, indent=1))
        return
    if network is None:
        table = Table(title="workload catalog")
        for col in ("network", "layers", "weights (M)", "MACs/sample (M)"):
            table.add_column(col, justify="left" if col == "network" else "right")
        for n, ls in nets.items():
            table.add_row(n, str(len(ls)), f"{sum(lay.n_weights for lay in ls) / 1e6:,.2f}",
                          f"{sum(lay.macs for lay in ls) / 1e6:,.1f}")
    else:
        table = Table(title=network)
        for col in ("layer", "kind", "weight shape", "input", "stride", "weight density", "act density"):
            table.add_column(col)
        for lay in nets[network]:
            table.add_row(lay.name, lay.kind, str(lay.weight_shape), str(lay.input_size or "-"), str(lay.stride),
                          "-" if lay.weight_density is None else f"{lay.weight_density:.0%}",
                          "-" if lay.act_density is None else f"{lay.act_density:.1%}")
    console.print(table)


# --- formats --------------------------------------------------------------------------------


def _load_for_encode(weights: str, layers: str | None) -> dict:
    """Named 2-D+ weights: a folder of EIE reference files (e.g. fc8) or whatever
    :func:`load_weights` reads."""
    from .formats.eie import read_reference
    from .workloads.weights import load_weights

    path = Path(weights)
    if path.is_dir() and (path / "ptr").is_dir():
        return {path.name: read_reference(path).decode()}
    return load_weights(weights, layers)


@app.command("encode")
def encode_cmd(
    weights: str = typer.Argument(
        ..., help="weight file, 'minilm[:layer-filter]', a catalog network, or a folder of EIE "
        "reference files (../shared/data/eie_alexnet_fc8)"
    ),
    pattern: str = typer.Option(
        None, "--pattern", "-p",
        help="pattern string(s), comma-separated, or 'all'; default: the weights' own nonzeros"
    ),
    sparsity: float = typer.Option(None, "--sparsity", "-s", help="target sparsity in [0, 1)"),
    fmt: list[str] = typer.Option(
        None, "--format", "-f", help="format (repeat, or comma-separated), e.g. csr, eie:64, "
        "nm:2:4, gs:8:1, bcsr:4x4; default: every format that holds the mask"
    ),
    layers: str = typer.Option(None, "--layers", help="only layers whose name contains this"),
    per_layer: bool = typer.Option(False, "--per-layer", help="also print one table per layer"),
    as_json: bool = typer.Option(False, "--json", help="print machine-readable JSON"),
) -> None:
    """Bits by field (values, indices, pointers, padding, ...) and compression ratio per format."""
    from . import patterns as patterns_lib
    from .formats.report import SKIPPED, encode_layers, totals

    with one_line_errors():
        if pattern is not None and sparsity is None:
            raise ValueError("--pattern needs --sparsity (without a pattern the weights' own "
                             "nonzeros are kept)")
        if sparsity is not None:
            patterns_lib.check_sparsity(sparsity)
        specs = [None] if pattern is None else [
            patterns_lib.pattern(p).spec for p in _pattern_list(pattern)]
        formats = [f.strip() for item in (fmt or []) for f in item.split(",") if f.strip()]
        named = _load_for_encode(weights, layers)
        rows = encode_layers(named, specs, sparsity, formats or None)
        failed = next((r for r in rows if r.error), None)
        if failed is not None and all(r.report is None for r in rows):
            raise ValueError(f"nothing could be encoded: {failed.layer} ({failed.pattern}, "
                             f"{failed.format}): {failed.error}")
    skipped = [r for r in rows if r.format == SKIPPED]
    rows = [r for r in rows if r.format != SKIPPED]
    summary = totals(rows) if len(named) > 1 else rows
    if not fmt:  # default: only the formats that hold the mask
        summary = [r for r in summary if r.report is not None]
    if as_json:
        out = {"layers": [r.to_dict() for r in rows], "total": [r.to_dict() for r in totals(rows)],
               "skipped": [{"layer": r.layer, "pattern": r.pattern, "reason": r.error}
                           for r in skipped]}
        print(json.dumps(out, indent=1))
        return
    if per_layer and len(named) > 1:
        for name in named:
            _print_encoded([r for r in rows if r.layer == name], name)
    title = f"{weights}: {len(named)} layer{'s' if len(named) > 1 else ''}"
    _print_encoded(summary, title + (f", {len(named)} layers summed" if len(named) > 1 else ""))
    for r in skipped:
        console.print(f"[dim]skipped {r.layer} for {r.pattern}: {r.error}[/]", highlight=False)


def _print_encoded(rows: list, title: str) -> None:
    """One row per (pattern, format): bits by field, bits per kept weight, compression ratio."""
    from .formats.base import FIELDS

    fields = [f for f in FIELDS if any(r.report and f in r.report.bits for r in rows)]
    table = Table(title=title)
    for col in ("pattern", "format", "kept", *fields, "total bits", "bits/kept", "ratio"):
        table.add_column(col, justify="left" if col in ("pattern", "format") else "right")
    for r in rows:
        if r.report is None:
            table.add_row(r.pattern, r.format, "[dim]n/a[/]", *[""] * (len(fields) + 3))
            continue
        rep = r.report
        table.add_row(
            r.pattern, r.format, f"{rep.nnz:,}", *(f"{rep.bits.get(f, 0):,}" for f in fields),
            f"{rep.total_bits:,}", f"{rep.bits_per_nnz:.2f}", f"{rep.compression_ratio:.2f}x",
        )
    console.print(table)
    for err in dict.fromkeys(r.error for r in rows if r.error):
        console.print(f"[dim]n/a: {err}[/]", highlight=False)


# --- hardware -------------------------------------------------------------------------------

class StudyCommands(TyperGroup):
    """``sparsegrain reproduce``: one command per registered study, built when asked for (the
    studies import torch, which ``sparsegrain --help`` does without)."""

    def list_commands(self, ctx: Any) -> list[str]:
        from .studies import STUDIES

        return sorted(STUDIES)

    def get_command(self, ctx: Any, name: str) -> Any:
        from .studies import STUDIES

        if name not in STUDIES:
            return None
        one = typer.Typer(rich_markup_mode=None)
        _study_command(one, name, STUDIES[name])
        return typer.main.get_command(one)


reproduce_app = typer.Typer(
    cls=StudyCommands, help="Reproduce a paper's results with the hardware models.",
    no_args_is_help=True, rich_markup_mode=None,
)
app.add_typer(reproduce_app, name="reproduce")


def _model_params(params: list[str]) -> dict:
    """``key=value`` pairs (ints, floats or words) for an accelerator's constructor."""
    out: dict = {}
    for item in params:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"parameter {item!r} must be key=value, e.g. n_pe=64")
        for cast in (int, float):
            try:
                out[key] = cast(text)
                break
            except ValueError:
                continue
        else:
            out[key] = text
    return out


@app.command("simulate")
def simulate_cmd(
    accel: str = typer.Argument(..., help="accelerator: a model (eie, gs, ...), a typed "
                                          "machine gs(lanes=16;spm_elems=65536) or a machine "
                                          "file FILE.yaml"),
    workload: str = typer.Option(None, "--workload", help="catalog layer, e.g. eie:Alex-8"),
    weights: str = typer.Option(None, "--weights", help="weight file (its first prunable tensor "
                                                        "unless --layer names one)"),
    layer: str = typer.Option(None, "--layer", help="with --weights: the layer to run"),
    pattern: str = typer.Option(None, "--pattern", help="prune with this pattern first"),
    sparsity: float = typer.Option(None, "--sparsity", help="target sparsity in [0, 1)"),
    activations: str = typer.Option(None, "--activations", help="activation vector file"),
    act_density: float = typer.Option(None, "--act-density", help="random activations' density"),
    energy_table: str = typer.Option(None, "--energy-table", help="YAML energy table file"),
    param: list[str] = typer.Option([], "--param", "-p", help="model parameter key=value"),
    seed: int = typer.Option(0, "--seed", help="seed of random weights and activations"),
    as_json: bool = typer.Option(False, "--json", help="print machine-readable JSON"),
) -> None:
    """Run one layer on an accelerator model: cycles, actions, traffic and energy."""
    from . import patterns as patterns_lib
    from .hardware import ACCELERATORS, simulate
    from .hardware.machines import one_machine
    from .workloads.operands import layer_inputs

    with one_line_errors():
        if layer is not None and weights is None:
            raise ValueError("--layer picks a layer of --weights; give --weights FILE too")
        machine = one_machine(accel)
        name, w, a = layer_inputs(
            workload, weights, pattern, sparsity, activations, act_density, seed, layer
        )
        derived = {} if pattern is None else (ACCELERATORS[machine.model].for_pattern(
            patterns_lib.pattern(pattern).geometry) or {})
        machine = dataclasses.replace(machine, params={**derived, **machine.params})
        result = simulate(machine, w, a, energy_table=energy_table, **_model_params(param))
    if as_json:
        print(json.dumps({"layer": name, **result.to_dict()}, indent=1))
    else:
        console.print(result.table())


def _reproduce(name: str, out: Path | None, overwrite: bool, as_json: bool, **options: object) -> None:
    """Run one seed comparison, write its markdown, CSV and PNG plots, print the summary."""
    from .core.files import check_output_folder
    from .studies import run_study, write_study
    from .studies.study import cell

    folder = Path("reproduce") / name if out is None else out
    with one_line_errors():
        check_output_folder(folder)  # a file in the way: said before the study runs
        study = run_study(name, **options)
        paths = write_study(study, folder, overwrite=overwrite)
    if as_json:
        print(json.dumps({"study": name, "files": [str(p) for p in paths], "rows": study.rows}, indent=1))
        return
    for title, columns, rows in [(study.title, study.table_columns, study.rows), *study.tables]:
        table = Table(title=title)
        for col in columns:
            table.add_column(col, justify="left" if col in ("layer", "pattern") else "right")
        for row in rows:
            table.add_row(*(cell(row.get(c, "")) for c in columns))
        console.print(table)
    for paragraph in study.summary:
        console.print(paragraph, highlight=False)
    console.print(f"wrote {', '.join(str(p) for p in paths)}", highlight=False)


def _study_command(into: typer.Typer, name: str, fn: Any) -> None:
    """Add ``sparsegrain reproduce NAME``, its options built from the study function's signature
    (each parameter's help and flag from its :class:`~sparsegrain.studies.study.Opt`): a new
    registered study gets its command without an edit here."""
    import inspect
    import typing

    from .studies.study import Opt

    hints = typing.get_type_hints(fn, include_extras=True)
    common = [
        inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, annotation=Path | None,
                          default=typer.Option(None, "--out", "-o", help="output folder "
                                               f"(default reproduce/{name})")),
        inspect.Parameter("overwrite", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                          default=typer.Option(False, "--overwrite",
                                               help="replace report files already there")),
        inspect.Parameter("as_json", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                          default=typer.Option(False, "--json", help="print the rows as JSON")),
    ]
    tuples: dict[str, type] = {}
    params = []
    for pname, param in inspect.signature(fn).parameters.items():
        hint = hints[pname]
        opt = next((m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Opt)), Opt(""))
        base = typing.get_args(hint)[0] if hasattr(hint, "__metadata__") else hint
        flag = opt.flag or f"--{pname.replace('_', '-')}"
        default = param.default
        if typing.get_origin(base) is tuple:  # typed on the command line as a comma list
            tuples[pname] = typing.get_args(base)[0]
            base, default = str, ",".join(map(str, default))
        names = (f"{flag}/--no-{flag[2:]}",) if base is bool and default is True else (flag,)
        params.append(inspect.Parameter(pname, inspect.Parameter.KEYWORD_ONLY, annotation=base,
                                        default=typer.Option(default, *names, help=opt.help)))

    def command(out: Path | None, overwrite: bool, as_json: bool, **options: Any) -> None:
        for pname, kind in tuples.items():
            try:
                options[pname] = tuple(kind(t.strip()) for t in options[pname].split(",")
                                       if t.strip())
            except ValueError:
                raise fail(f"--{pname.replace('_', '-')} takes comma-separated {kind.__name__} "
                           f"values, got {options[pname]!r}") from None
        _reproduce(name, out, overwrite, as_json, **options)

    command.__signature__ = inspect.Signature(common + params)  # type: ignore[attr-defined]
    text = " ".join((fn.__doc__ or name).split("\n\n")[0].split())
    command.__doc__ = re.sub(r":\w+:`~?\.?([^`]+)`|``([^`]+)``", lambda m: m[1] or m[2], text)
    into.command(name)(command)


# --- kernels --------------------------------------------------------------------------------


def _ints(text: str, what: str) -> list[int]:
    """Comma-separated positive integers, e.g. ``1,64,256``."""
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{what} must be comma-separated integers, got {text!r}") from None
    if not vals or min(vals) < 1:
        raise ValueError(f"{what} must be positive integers, got {text!r}")
    return vals


def _shape(text: str) -> tuple[int, int]:
    """``ROWSxCOLS`` as two positive integers."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"shape must be ROWSxCOLS with positive sizes, e.g. 4096x4096; got {text!r}")
    return int(parts[0]), int(parts[1])


@app.command("bench")
def bench_cmd(
    shape: str = typer.Option("4096x4096", help="weight matrix ROWSxCOLS"),
    batch: str = typer.Option("1,64", help="comma-separated batch sizes (columns of X)"),
    pattern: list[str] = typer.Option(["gs:8:1"], help="pattern(s): unstructured, block:RxC, nm:N:M, gs:B:E, csp:C"),
    sparsity: float = typer.Option(0.9, help="fraction of weights pruned, in [0, 1)"),
    reps: int = typer.Option(7, help="timed repetitions (the median is reported)"),
    as_json: bool = typer.Option(False, "--json", help="print the measurements as JSON"),
    peers: bool = typer.Option(False, "--peers", help="against every peer engine installed "
                               "(onnxruntime, torch CSR/BSR, scipy, MKL sparse), interleaved"),
    value_bits: list[int] = typer.Option([], "--value-bits", help="with --peers: time the kernel "
                                         "storing values in these widths as well (16: float16, "
                                         "4: 4-bit codebook codes; float32 accumulation)"),
) -> None:
    """Time the sparse CPU kernels against dense torch and torch's CSR matmul (W @ X)."""
    from .benchmarking import bench as kbench

    with one_line_errors():
        dims, batches = _shape(shape), _ints(batch, "batch")
        if reps < 1:
            raise ValueError(f"reps must be at least 1, got {reps}")
        if value_bits and not peers:
            raise ValueError("--value-bits goes with --peers")
        bad = [b for b in value_bits if b not in (16, 4)]
        if bad:
            raise ValueError(f"--value-bits takes 16 or 4, got {bad[0]}")
        if peers:
            return _bench_peers(dims, pattern, sparsity, batches, reps, as_json, tuple(value_bits))
        copy = kbench.copy_bandwidth()
        rows = [r for p in pattern for r in kbench.bench(dims, p, sparsity, batches, reps, copy)]
    if as_json:
        print(json.dumps([r.to_dict() for r in rows], indent=1))
        return
    table = Table(title=f"W @ X, W {shape} fp32 at {sparsity:.0%} sparsity; copy {copy:.1f} GB/s")
    for col in ("pattern", "format", "batch", "dense ms", "torch CSR ms", "kernel ms",
                "x dense", "x torch CSR", "GFLOP/s", "bw / copy"):
        table.add_column(col, justify="left" if col in ("pattern", "format") else "right")
    for r in rows:
        table.add_row(r.pattern, r.format, str(r.batch), f"{r.dense_ms:.3f}", f"{r.torch_csr_ms:.3f}",
                      f"{r.kernel_ms:.3f}", f"{r.speedup_vs_dense:.2f}", f"{r.speedup_vs_torch_csr:.2f}",
                      f"{r.gflops:.1f}", f"{r.bandwidth_fraction:.0%}")
    console.print(table)
    warning = kbench.load_warning(rows)
    if warning:
        errors.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)


def _bench_peers(dims: tuple[int, int], patterns: list[str], sparsity: float, batches: list[int],
                 rounds: int, as_json: bool, value_bits: tuple[int, ...]) -> None:
    """``bench --peers``: every installed engine on every (pattern, batch), interleaved."""
    import torch
    from rich.progress import Progress

    from .benchmarking import bench as kbench
    from .benchmarking.peers import bench_peers

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("peers", total=len(patterns) * len(batches))
        rows, missing = bench_peers(dims, patterns, sparsity, batches, rounds,
                                    lambda s: bar.update(task, advance=1, description=s),
                                    value_bits)
    if as_json:
        print(json.dumps({"rows": [r.to_dict() for r in rows], "missing": missing}, indent=1))
        return
    names = list(dict.fromkeys(n for r in rows for n in r.ms))
    table = Table(title=f"W @ X, W {dims[0]}x{dims[1]} fp32 at {sparsity:.0%} sparsity, "
                        f"{torch.get_num_threads()} threads: ms, interleaved medians of {rounds} rounds")
    ours = list(rows[0].vs_best_peer) if rows else []
    for col in ("pattern", "batch", *names, "best peer", *(f"{n} vs best" for n in ours)):
        table.add_column(col, justify="left" if col in ("pattern", "best peer") else "right")
    for r in rows:
        table.add_row(r.pattern, str(r.batch), *(f"{r.ms[n]:.3f}" if n in r.ms else "—"
                                                  for n in names), r.best_peer,
                      *(f"{v:.2f}x" for v in r.vs_best_peer.values()))
    console.print(table)
    if missing:
        console.print(f"not installed, left out: {', '.join(missing)} "
                      "(pip install 'sparsegrain[peers]')", highlight=False)
    warning = kbench.load_warning([])
    if warning:
        errors.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)



# --- pruning and the trade-off sweep ---------------------------------------------------------


@app.command("tradeoff")
def tradeoff_cmd(
    model: str = typer.Option(
        "digits-cnn", help="model to prune: a built-in name, FILE.py:NAME or package.module:NAME "
                           "(NAME a sparsegrain.Workload or a function returning one)"),
    patterns: str = typer.Option(
        "unstructured,vector,kernel,filter,block:4x4,nm:2:4,gs:8:1,csp:8",
        help="comma-separated pattern strings (see `sparsegrain patterns`)"),
    sparsity: str = typer.Option("0.5,0.7,0.8,0.9,0.95", help="comma-separated targets in [0, 1)"),
    accelerators: str = typer.Option("eie,gs,csph,sparten,systolic",
                                     help="comma-separated machines: models, typed machines "
                                          "with grids gs(lanes=8,16;spm_elems=65536) or machine "
                                          "files FILE.yaml; '' for none"),
    formats: str = typer.Option("", help="comma-separated storage formats; empty = all"),
    seeds: str = typer.Option("0", help="comma-separated seeds"),
    steps: int = typer.Option(None, help="fine-tuning steps per point (default: the model's; "
                                         "0 = one-shot)"),
    out: Path = typer.Option(Path("results"), help="output folder: store and report"),
    resume: bool = typer.Option(False, "--resume",
                                help="add this sweep to a folder holding another sweep's store"),
    force: bool = typer.Option(False, "--force",
                               help="replace another sweep's store (deletes only that file)"),
    as_json: bool = typer.Option(False, "--json", help="print the result table as JSON"),
    budget: str = typer.Option("0.5,1,2", help="accuracy budgets of the equal-accuracy answer, "
                                              "in points of the metric below dense"),
    allocation: str = typer.Option(
        "uniform", help="how each target is shared among the layers: uniform (every layer at the "
                        "target), global (groups ranked across layers) or sensitivity (along a "
                        "one-shot per-layer scan)"),
    cpu_batch: int = typer.Option(None, help="batch of the latency measured on this CPU with the "
                                             "project's kernels (default: the batch the model "
                                             "serves, its cpu_batch); 0 = not measured"),
    workers: int = typer.Option(1, help="run points in this many local worker processes"),
    ray: str = typer.Option(None, help="run points as tasks of a Ray cluster: its address "
                                       "(ray://host:10001, auto) or 'local' to start one here"),
    device: str = typer.Option("cpu", help="where fine-tuning and evaluation run: cpu, cuda, auto"),
    screenshot: bool = typer.Option(False, "--screenshot", help="also save OUT/report.png: "
                                    "the page's top as headless Chromium shows it, 1400 px wide"),
) -> None:
    """Prune a real model with every pattern at every sparsity and report accuracy, size and
    modelled accelerator cost; results go to an SQLite store in OUT, the report beside it."""
    if workers > 1 and ray is None:  # the workers' fork server imports while this process does
        from .core.forkserver import start_fork_server

        start_fork_server()
    from .experiments import SweepConfig, run_sweep
    from .experiments.config import Pruning, split_list
    from .report import report_sweep
    from .report.budget import check_budgets

    try:
        cfg = SweepConfig(
            model=model, patterns=split_list(patterns), sparsities=split_list(sparsity),
            accelerators=split_list(accelerators), formats=split_list(formats),
            seeds=tuple(_int_list(seeds, "seed")), pruning=Pruning(steps=steps),
            allocation=allocation, cpu_batch=cpu_batch)
        budgets = check_budgets(budget)
        run = run_sweep(cfg, out, resume=resume, force=force, workers=workers, ray=ray,
                        device=device)
        summary, paths = report_sweep(out, run.config, budgets, screenshot)
    except ValueError as e:
        raise fail(str(e)) from None
    except KeyboardInterrupt:
        raise _interrupted(out) from None
    if not as_json:
        console.print(f"{run.measured} point(s) measured, {run.skipped} already in the store, "
                      f"in {run.seconds:.1f} s")
    _print_report(summary, paths, as_json)


@app.command("sensitivity")
def sensitivity_cmd(
    model: str = typer.Option("digits-cnn", help="a built-in name, FILE.py:NAME or "
                                                 "package.module:NAME"),
    pattern: str = typer.Option("unstructured", "--pattern", "-p", help="pattern string"),
    sparsity: str = typer.Option("0.3,0.5,0.7,0.8,0.9,0.95",
                                 help="comma-separated sparsities in [0, 1)"),
    layers: str = typer.Option("", help="comma-separated layers to scan (default: every "
                                        "prunable layer)"),
    out: Path = typer.Option(Path("results"), help="folder for sensitivity.md/.json/.png"),
    as_json: bool = typer.Option(False, "--json", help="print the scan as JSON"),
) -> None:
    """Prune each layer alone, one-shot, at each sparsity and evaluate: which layers tolerate
    which sparsity under a pattern (a table and a plot in OUT)."""
    from dataclasses import asdict

    from .experiments.config import split_list
    from .experiments.sensitivity import scan
    from .report.sensitivity import table, write

    with one_line_errors():
        with _progress("sensitivity scan") as tick:
            result = scan(model, pattern, sparsity, split_list(layers) or None, progress=tick)
        paths = write(result, out)
    if as_json:
        print(json.dumps({**asdict(result), "files": {k: str(v) for k, v in paths.items()}},
                         indent=1))
        return
    head, body = table(result)
    t = Table(title=f"{result.model}: {result.metric} with one layer pruned to {result.pattern} "
                    f"(dense {result.dense:.4f})")
    for h in head:
        t.add_column(h, justify="left" if h == "layer" else "right")
    for row in body:
        t.add_row(*row)
    console.print(t)
    console.print(f"scan of {sum(len(p) for p in result.points.values())} evaluations in "
                  f"{result.seconds:.1f} s; written: {paths['md']}, {paths['png']}")


@app.command("report")
def report_cmd(
    out: Path = typer.Argument(Path("results"), help="a folder written by `sparsegrain tradeoff`"),
    as_json: bool = typer.Option(False, "--json", help="print the result table as JSON"),
    budget: str = typer.Option("0.5,1,2", help="accuracy budgets of the equal-accuracy answer, "
                                              "in points of the metric below dense"),
    screenshot: bool = typer.Option(False, "--screenshot", help="also save OUT/report.png: "
                                    "the page's top as headless Chromium shows it, 1400 px wide"),
) -> None:
    """Rewrite report.md, report.html and the plots of the last sweep stored in OUT."""
    from .report import report_sweep

    with one_line_errors():
        summary, paths = report_sweep(out, budgets=budget, screenshot=screenshot)
    _print_report(summary, paths, as_json)


def _print_report(summary, paths: dict[str, Path], as_json: bool) -> None:
    """A compact table on the console (or every figure as JSON), then where the report is."""
    from .report.render import fronts, to_json

    if as_json:
        print(json.dumps({**to_json(summary), "files": {k: str(v) for k, v in paths.items()}},
                         indent=1))
        return
    per_front = fronts(summary)
    table = Table(title=f"{summary.model}: dense {summary.metric} {summary.dense.accuracy:.4f}; "
                        f"speedup over dense per machine (cpu: measured); ★n: on n of the "
                        f"{len(per_front)} Pareto fronts (metric vs compression, vs each "
                        "machine's speedup and energy gain; report.md names them)")
    for h in ("pattern", "sparsity", "actual", summary.metric, "best format", *summary.machines, "★"):
        table.add_column(h, justify="left" if h in ("pattern", "best format") else "right")
    for i, e in enumerate(summary.entries):
        best = e.best_format
        n_fronts = sum(i in idx for idx in per_front.values())
        table.add_row(e.pattern, f"{e.sparsity:g}", f"{e.sparsity_actual:.3f}", f"{e.accuracy:.4f}",
                      f"{best[0]} {best[1]:.2f}x" if best else "n/a",
                      *(f"{e.speedup[a]:.2f}x" if a in e.speedup else "n/a"
                        for a in summary.machines),
                      f"★{n_fronts}" if n_fronts else "")
    console.print(table)
    console.print(f"report: {paths['md']} and {paths['html']}")
    if "screenshot" in paths:
        console.print(f"screenshot: {paths['screenshot']}")


@contextmanager
def _progress(what: str):
    """A progress bar on stderr with a time estimate; yields ``tick(done, total, seconds)``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True, emoji=False), transient=True) as bar:
        task = bar.add_task(what, total=None)

        def tick(done: int, total: int, seconds: float) -> None:
            bar.update(task, completed=done, total=total)

        yield tick


def _interrupted(out: Path) -> typer.Exit:
    """After Ctrl-C in a sweep: one line saying what the store keeps and how to go on."""
    import shlex

    from .experiments.store import STORE_NAME, ResultStore

    kept = 0
    if (out / STORE_NAME).is_file():
        try:
            with ResultStore(out / STORE_NAME, readonly=True) as store:
                kept = len({(r.pattern, r.sparsity, r.seed) for r in store.rows()
                            if r.kind == "accuracy"})
        except (ValueError, OSError):
            pass  # a store that cannot be read keeps nothing worth counting
    again = shlex.join(["sparsegrain", *sys.argv[1:]])
    console.print(f"interrupted: {kept} point(s) kept in {out / STORE_NAME}; run the same command "
                  f"again to go on from there: {again}", highlight=False)
    return typer.Exit(code=130)


def _int_list(text: str, what: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"{what}s must be comma-separated integers, got {text!r}") from None


def run() -> None:
    """The console entry point: every command, with an error no command turned into a message
    (a full disk, an unreadable file, a fault in a user's own code) printed as one line naming
    it instead of a traceback; ``SPARSEGRAIN_DEBUG=1`` shows the traceback."""
    import os

    try:
        app()
    except Exception as e:  # noqa: BLE001 - the last line of defence, re-raised when debugging
        if os.environ.get("SPARSEGRAIN_DEBUG"):
            raise
        where = f"{e.filename}: " if isinstance(e, OSError) and e.filename else ""
        what = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        text = " ".join(f"{type(e).__name__}: {where}{what}".split())
        raise SystemExit(fail(f"{text} (SPARSEGRAIN_DEBUG=1 shows where)").exit_code) from None


if __name__ == "__main__":
    run()
