"""No function of the package runs past 60 lines without saying why.

A function's length is the lines of its body after the docstring: from its first statement to
its last line, blank and comment lines included (read with ``ast``; nested functions count in
their own right and inside the function that holds them). A function that is clearer whole (a
compiled kernel whose loops share state) says so with a comment line ``# long: <reason>``
directly above its first statement after the docstring, so that the reason sits where a reader
starts the body::

    def kernel(...):
        \"\"\"What it does.\"\"\"
        # long: one compiled loop nest; split, its state would cross calls
        ...

A marker on a function that is not long is stale and fails too.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "sparsegrain"
LIMIT = 60
MARKER = re.compile(r"^\s*# long:(.*)$")

Function = ast.FunctionDef | ast.AsyncFunctionDef


def functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, Function]]:
    """Every function and method under ``tree`` with its qualified name (Class.method, f.inner)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield prefix + node.name, node
            yield from functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from functions(node, f"{prefix}{node.name}.")
        else:
            yield from functions(node, prefix)


def first_statement(fn: Function) -> int:
    """The line of the body's first statement after the docstring (the docstring's own line if
    the body is nothing else)."""
    body = fn.body
    has_doc = (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
               and isinstance(body[0].value.value, str))
    return body[1].lineno if has_doc and len(body) > 1 else body[0].lineno


def measure(path: Path, root: Path = PACKAGE.parents[1]) -> list[tuple[str, int, str | None]]:
    """(path:qualified name, body lines, the marker's reason or None) of every function in the
    file ``path``, named relative to ``root``."""
    lines = path.read_text().splitlines()
    out = []
    for name, fn in functions(ast.parse("\n".join(lines))):
        start, end = first_statement(fn), fn.end_lineno or fn.lineno
        marker = MARKER.match(lines[start - 2]) if start >= 2 else None
        out.append((f"{path.relative_to(root).as_posix()}:{name}", end - start + 1,
                    marker.group(1).strip() if marker else None))
    return out


def measured() -> list[tuple[str, int, str | None]]:
    """:func:`measure` over every module of the package."""
    return [m for path in sorted(PACKAGE.rglob("*.py")) for m in measure(path)]


def test_long_functions_say_why() -> None:
    long = [f"{name}: {n} lines" for name, n, reason in measured() if n > LIMIT and not reason]
    assert not long, (f"functions over {LIMIT} lines: split them, or put `# long: <reason>` "
                      "above the first statement after the docstring:\n" + "\n".join(long))


def test_every_long_marker_is_needed() -> None:
    stale = [f"{name}: {n} lines" for name, n, reason in measured()
             if reason is not None and n <= LIMIT]
    assert not stale, f"`# long:` on functions of at most {LIMIT} lines:\n" + "\n".join(stale)


def test_the_measure_and_the_marker(tmp_path: Path) -> None:
    filler = [f"        a{i} = {i}" for i in range(LIMIT)]
    source = ["def short():", '    """Doc,', '    two lines."""', "    a = 1", "", "    return a",
              "class C:", "    def marked(self):", '        """Doc."""', "        # long: a reason",
              *filler, "        return a0",
              "    def empty_reason(self):", "        # long:", *filler, "        return a0"]
    (tmp_path / "m.py").write_text("\n".join(source) + "\n")
    assert measure(tmp_path / "m.py", tmp_path) == [
        ("m.py:short", 3, None), ("m.py:C.marked", LIMIT + 1, "a reason"),
        ("m.py:C.empty_reason", LIMIT + 1, "")]
