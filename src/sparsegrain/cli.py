"""The ``sparsegrain`` command line: one sub-command per stage of the pipeline."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from . import patterns as patterns_lib

app = typer.Typer(
    help="Hardware-aware sparsity: patterns, formats, kernels, accelerator models, trade-offs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()


@app.callback()
def main() -> None:
    """Hardware-aware sparsity: patterns, formats, kernels, accelerator models, trade-offs."""


def fail(message: str) -> typer.Exit:
    """Print a one-line error in red and return the Exit to raise (status 2)."""
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code=2)


# --- patterns -------------------------------------------------------------------------------


@app.command("patterns")
def patterns_cmd() -> None:
    """List the sparsity patterns with a one-line description each."""
    table = Table(title="sparsity patterns")
    table.add_column("pattern")
    table.add_column("forms")
    table.add_column("rule")
    for kind, cls in patterns_lib.PATTERNS.items():
        table.add_row(kind, ", ".join(cls.forms), cls.summary)
    console.print(table)


# --- workloads ------------------------------------------------------------------------------


# --- formats --------------------------------------------------------------------------------


# --- hardware -------------------------------------------------------------------------------


# --- kernels --------------------------------------------------------------------------------


# --- pruning and the trade-off sweep ---------------------------------------------------------


if __name__ == "__main__":
    app()
