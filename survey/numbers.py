"""Whole numbers and ids from client input, read without surprises.

``str.isdigit()`` is true for ``"²"`` and ``"٣"`` and for 4,400 digits, all of
which ``int()`` refuses (ValueError) or SQLite cannot bind (OverflowError): a
500 from one character. Everything the app reads as a whole number from a form,
a query string or a URL goes through :func:`whole_number` (ASCII digits, a
bounded length) or the bounded ``int`` URL converter.
"""
from __future__ import annotations

from werkzeug.routing import IntegerConverter

SQLITE_MAX = 2 ** 63 - 1


def whole_number(text, *, digits: int = 9) -> int | None:
    """``text`` as a non-negative int when it is 1 to ``digits`` ASCII digits, else None."""
    if isinstance(text, str) and 0 < len(text) <= digits and text.isascii() and text.isdigit():
        return int(text)
    return None


class BoundedIntegerConverter(IntegerConverter):
    """Werkzeug's ``int`` converter that matches only ids SQLite can hold (others: 404, not a 500)."""

    regex = r"[0-9]{1,19}"

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        super().__init__(map, fixed_digits, min, SQLITE_MAX if max is None else max, signed)
