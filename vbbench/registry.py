"""Name → declaration tables, found with did-you-mean errors.

Every kind of thing vbbench knows by name — datasets, variants, models, metrics — is declared once
as a frozen dataclass with a ``name`` and collected in a :class:`Registry`. Lookup of an unknown
name raises the registry's error type with the closest known names and the full list, so a typo
gets the same helpful message everywhere.

Examples
--------
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Colour:
...     name: str
>>> colours = Registry("colour", [Colour("red"), Colour("green")])
>>> colours["red"]
Colour(name='red')
>>> colours["gren"]
Traceback (most recent call last):
...
vbbench.errors.UsageError: unknown colour 'gren'; did you mean 'green'? (known: red, green)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from typing import Generic, Protocol, TypeVar

from vbbench.errors import UsageError, VbbenchError

__all__ = ["Registry", "did_you_mean"]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=_Named)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``known``, or ``""`` if none is close.

    Examples
    --------
    >>> did_you_mean("shen2061", ["aisegment", "shen2016"])
    "; did you mean 'shen2016'?"
    >>> did_you_mean("zzz", ["a"])
    ''
    """
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


class Registry(Generic[T]):
    """An ordered table of declarations keyed by their ``name``.

    Parameters
    ----------
    kind : str
        What the entries are ("model", "variant"), used in error messages.
    entries : iterable
        Declarations with a ``name`` attribute; names must be unique.
    error : type
        The :class:`~vbbench.errors.VbbenchError` subclass raised for unknown names.
    """

    def __init__(self, kind: str, entries: Iterable[T], error: type[VbbenchError] = UsageError):
        self.kind = kind
        self.error = error
        self._entries: dict[str, T] = {}
        for entry in entries:
            if entry.name in self._entries:
                raise ValueError(f"{kind} {entry.name!r} is declared twice")
            self._entries[entry.name] = entry

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(self._entries)
            raise self.error(
                f"unknown {self.kind} {name!r}{did_you_mean(name, self._entries)} (known: {known})"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> tuple[str, ...]:
        """Every name, in declaration order."""
        return tuple(self._entries)

    def values(self) -> tuple[T, ...]:
        """Every declaration, in declaration order."""
        return tuple(self._entries.values())

    def items(self):
        return self._entries.items()

    def check(self, names: Iterable[str]) -> list[str]:
        """``names`` as a list, after checking each (raises for the first unknown one)."""
        return [self[name].name for name in names]
