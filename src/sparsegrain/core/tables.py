"""The one table writer: a header and rows of cells as a Markdown (GitHub) table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def markdown_table(head: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """The table's lines: header, separator, one line per row (cells as ``str``; a ``|`` inside
    a cell is escaped so that it cannot split the cell)."""

    def line(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [line(head), "|" + "---|" * len(head), *(line(r) for r in rows)]
