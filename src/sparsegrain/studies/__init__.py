"""The seed works' comparisons, reproduced in kind: ``granularity``, ``csp``, ``gs``, ``eie``,
SparTen's own headline (``sparten``, the baseline of ``csp``) and SCNN's (``scnn``, the machine
of ``granularity``).

Each study is a function registered under its name that returns a :class:`~.study.Study` (rows,
a published-vs-obtained summary and plots) that :func:`~.study.write_study` writes as markdown,
CSV and PNG files; ``sparsegrain reproduce NAME`` is built from the function's signature.
"""

from . import csp, eie, granularity, gs, scnn, sparten  # noqa: F401  (modules register their studies)
from .study import STUDIES, Study, run_study, write_study

__all__ = ["STUDIES", "Study", "run_study", "write_study"]
