"""The seed works' comparisons, reproduced in kind: ``granularity``, ``csp``, ``gs``, ``eie``, and
SparTen's own headline (``sparten``), the baseline of ``csp``.

Each study returns a :class:`~.report.Study` (rows, a published-vs-obtained summary and plots)
that :func:`~.report.write_study` writes as markdown, CSV and PNG files; the EIE study
(:mod:`.eie`, cycle-exact runs of the paper's nine layers) writes its own report.
"""

from . import csp, granularity, gs, sparten  # noqa: F401  (modules register their studies)
from .report import STUDIES, Study, run_study, write_study

__all__ = ["STUDIES", "Study", "run_study", "write_study"]
