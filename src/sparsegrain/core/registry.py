"""One registry class for every stage: members keyed by the short strings users type.

A :class:`Registry` is a dict (``"gs" in PATTERNS``, ``PATTERNS["gs"]``, ``list(FORMATS)``) with one
way to add a member (:meth:`Registry.register`) and one error for a key it does not hold
(:meth:`Registry.lookup`), which lists the valid keys.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(dict[str, T], Generic[T]):
    """Members of one stage by key; ``what`` names a member in errors (``"pattern"``)."""

    def __init__(self, what: str, attr: str | None = None) -> None:
        super().__init__()
        self.what = what
        #: attribute of a registered class set to its key (``kind``, ``fmt``, ``name``)
        self.attr = attr

    def register(self, key: str) -> Callable[[T], T]:
        """Decorator adding a member under ``key``; a key may be registered once."""
        if not isinstance(key, str) or not key or key != key.strip().lower():
            raise ValueError(f"{self.what} key must be a lower-case non-empty string, got {key!r}")

        def deco(member: T) -> T:
            if key in self and self[key] is not member:
                raise ValueError(f"{self.what} {key!r} is already registered ({self[key]!r})")
            if self.attr is not None:
                setattr(member, self.attr, key)
            self[key] = member
            return member

        return deco

    def valid(self) -> str:
        """The registered keys, for error messages and help."""
        return ", ".join(self)

    def unknown(self, key: object) -> ValueError:
        """The error for a key this registry does not hold."""
        return ValueError(f"unknown {self.what} {key!r}; valid: {self.valid()}")

    def lookup(self, key: object) -> T:
        """The member registered under ``key``, or :meth:`unknown`'s error."""
        if not isinstance(key, str) or key not in self:
            raise self.unknown(key)
        return self[key]

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {self.valid()})"


def import_members(package: str, path: Iterable[str]) -> None:
    """Import every module of a stage package (alphabetically; subpackages excluded), so that a
    new member registers itself by being a module there: ``import_members(__name__, __path__)``
    in the stage's ``__init__``."""
    for info in sorted(pkgutil.iter_modules(path), key=lambda m: m.name):
        if not info.ispkg:
            importlib.import_module(f"{package}.{info.name}")
