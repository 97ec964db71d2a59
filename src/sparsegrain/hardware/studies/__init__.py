"""The seed works' hardware comparisons, reproduced in kind: ``granularity``, ``csp`` and ``gs``.

Each study returns a :class:`~.report.Study` (rows, a published-vs-obtained summary and plots)
that :func:`~.report.write_study` writes as markdown, CSV and PNG files.
"""

from .report import STUDIES, Study, run_study, write_study

__all__ = ["STUDIES", "Study", "run_study", "write_study"]
