"""Notes and errors that an application can say in its own user's language.

The analysis words its notes and errors in English, and the command line prints
them as they are. Some of them also carry a ``code`` (what the message says, e.g.
``"frame.cell"``) and ``params`` (the values in it, unformatted: numbers stay
numbers), so an application that shows them to people who read another language
-- the survey platform's staff pages, in Vietnamese -- words them from its own
catalog. The analysis imports nothing from that application.

* A note is a :class:`Note`: a ``str`` (the English text, so everything that
  prints, joins or compares notes is unchanged) with ``.code`` and ``.params``.
* An error is the usual exception (:class:`~analysis.inputs.InputError`,
  ``ValueError``) made by :func:`coded`; ``getattr(exc, "code", None)`` is its
  code (None for an error that has none).

>>> n = Note("frame.cell", "cell a|b: 3 respondents", name="a|b", respondents=3)
>>> n, n.code, n.params["respondents"], n.startswith("cell ")
('cell a|b: 3 respondents', 'frame.cell', 3, True)
>>> e = coded(ValueError, "table.no_respondents", "no respondents")
>>> str(e), e.code, e.params
('no respondents', 'table.no_respondents', {})
"""
from __future__ import annotations

from typing import Any

__all__ = ["Note", "coded", "recast"]


class Note(str):
    """The English ``text`` of a note, with the ``code`` of what it says and its ``params``."""

    code: str
    params: dict[str, Any]

    def __new__(cls, code: str, text: str, **params: Any) -> "Note":
        note = super().__new__(cls, text)
        note.code = code
        note.params = params
        return note

    def __reduce__(self):      # pickles and copies (str's own protocol would call __new__ with the text only)
        return (_note, (self.code, str(self), self.params))


def _note(code: str, text: str, params: dict) -> Note:
    return Note(code, text, **params)


def coded(cls: type[Exception], code: str, text: str, **params: Any) -> Exception:
    """An exception ``cls(text)`` carrying ``code`` and ``params`` (raise it)."""
    exc = cls(text)
    exc.code = code
    exc.params = params
    return exc


def recast(cls: type[Exception], exc: Exception) -> Exception:
    """``cls(str(exc))`` keeping ``exc``'s code and params, when it has them."""
    code = getattr(exc, "code", None)
    return coded(cls, code, str(exc), **exc.params) if code else cls(str(exc))
