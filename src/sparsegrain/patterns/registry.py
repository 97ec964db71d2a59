"""Registry of patterns keyed by the short strings users type, and the one parser for them.

Grammar: ``kind[:param...][:key=value...]``, e.g. ``nm:2:4``, ``block:4x4``, ``gs:8:1:scatter=true``,
``filter:norm=l2``. Options may also be passed as keyword arguments to :func:`pattern`.
"""

from __future__ import annotations

import functools

from ..core.registry import Registry
from .base import Pattern

PATTERNS: Registry[type[Pattern]] = Registry("pattern", attr="kind")
#: class decorator adding a Pattern subclass under its kind (``@register("nm")``)
register = PATTERNS.register


def valid_forms() -> str:
    """Every accepted string form, for error messages and help."""
    return ", ".join(f for cls in PATTERNS.values() for f in cls.forms)


def examples() -> list[str]:
    """One concrete, typical string per registered pattern (``inspect --pattern all``)."""
    return [cls.example or kind for kind, cls in PATTERNS.items()]


def _value(v: str) -> object:
    low = v.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    try:
        return int(v)
    except ValueError:
        return v


def pattern(spec: str | Pattern, **options: object) -> Pattern:
    """Parse a pattern string such as ``"nm:2:4"`` into a :class:`Pattern`.

    Raises ``ValueError`` listing the valid forms for an unknown or malformed string.
    """
    if isinstance(spec, Pattern):
        if options:
            return pattern(spec.spec, **options)
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"pattern must be a non-empty string; valid forms: {valid_forms()}")
    key = tuple(sorted(options.items(), key=lambda kv: kv[0]))
    try:
        return _parse(spec, key)
    except TypeError as e:  # an option value that cannot be a cache key: parse it afresh
        if "unhashable" not in str(e):
            raise
        return _parse.__wrapped__(spec, key)


@functools.lru_cache(maxsize=1024)
def _parse(spec: str, options: tuple[tuple[str, object], ...]) -> Pattern:
    """A pattern string parsed once per process: the registry is consulted once per distinct
    string, and every caller shares the (immutable) Pattern."""
    kind, *parts = [p.strip() for p in spec.strip().split(":")]
    kind = kind.lower()
    if kind not in PATTERNS:
        raise ValueError(f"unknown pattern {spec!r}; valid forms: {valid_forms()}")
    args = [p for p in parts if "=" not in p]
    opts: dict[str, object] = {}
    for p in parts:
        if "=" in p:
            k, v = p.split("=", 1)
            opts[k.strip()] = _value(v.strip())
    opts.update(dict(options))
    cls = PATTERNS[kind]
    try:
        return cls.from_parts(args, opts)
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"malformed pattern {spec!r}: {e}; forms for {kind}: {', '.join(cls.forms)}"
        ) from None
