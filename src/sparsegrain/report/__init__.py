"""Trade-off reports: a table and PNG plots from the results store, as Markdown and HTML."""

from .pareto import pareto_front
from .render import REPORT_HTML, REPORT_MD, write_report
from .summary import Entry, Summary, summarize
from .sweep_report import report_sweep

__all__ = [
    "REPORT_HTML",
    "REPORT_MD",
    "Entry",
    "Summary",
    "pareto_front",
    "report_sweep",
    "summarize",
    "write_report",
]
