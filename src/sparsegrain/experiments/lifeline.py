"""Imported by the sweep's fork server as it starts: the server ends with the sweep's driver
(its parent), and the workers it forked, tied to it, end with it."""

from .parallel import die_with_parent

die_with_parent()
