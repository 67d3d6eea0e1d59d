"""The analysis engine's notes and errors in the staff member's language.

The analysis package (``analysis/``) imports nothing from the platform and words its
notes and errors in English for its command line; those a staff page shows carry a
code and their values (:mod:`analysis.messages`). This module words each code from
the gettext catalog, with numbers and dates in the page's local format. A message
without a known code (none is expected on a staff page) is returned in English,
flagged so the page can mark it ``lang="en"``.
"""
from __future__ import annotations

from typing import Any, Callable

from flask_babel import gettext as _

from ..i18n import local_date, number


def _n(value: Any, digits: int | None = None) -> str:
    return "?" if value is None else number(value, digits)


def _dates(p: dict) -> dict[str, str]:
    return {"start": local_date(p.get("date_from")) or "…", "end": local_date(p.get("date_to")) or "…"}


def _questionnaires(found) -> str:
    return "; ".join(_("%(questionnaire)s: %(n)s responses", questionnaire=q, n=_n(c)) for q, c in found)


NOTES: dict[str, Callable[[dict], str]] = {
    "frame.design": lambda p: _(
        "Probability sample from the register of dossiers: %(strata)s strata (unit × field), base weight N_h/n_h "
        "(dossiers over sampled), adjusted for non-response in %(cells)s weighting cells of at least "
        "%(min)s respondents (%(collapsed)s of them merged from smaller ones), finite population correction "
        "from N_h.", strata=_n(p["strata"]), cells=_n(p["cells"]), min=_n(p["min_respondents"]),
        collapsed=_n(p["collapsed"])),
    "frame.counts": lambda p: _(
        "Register: N = %(population)s dossiers, %(sampled)s sampled, %(ineligible)s known to be ineligible, "
        "%(respondents)s respondents.", population=_n(p["population"]), sampled=_n(p["sampled"]),
        ineligible=_n(p["ineligible"]), respondents=_n(p["respondents"])),
    "frame.cell": lambda p: _(
        "Merged weighting cell %(cell)s: %(respondents)s respondents, non-response factor %(factor)s.",
        cell=p["name"], respondents=_n(p["respondents"]), factor=_n(p["factor"], 4)),
}

ERRORS: dict[str, Callable[[dict], str]] = {
    "frame.min_cell": lambda p: _(
        "The smallest weighting cell must have at least 1 respondent, not %(n)s.", n=_n(p["min_respondents"])),
    "frame.no_stratum": lambda p: _("The sample of this period has no stratum with sampled dossiers."),
    "frame.no_respondents": lambda p: _("Nobody sampled for this period has answered yet (excluded responses "
                                        "do not count)."),
    "frame.no_respondent_at_all": lambda p: _("A weighting cell of this period's sample has no respondent."),
    "frame.stray_response": lambda p: _(
        "Response no. %(response)s answers an invitation of this sample but its unit (id %(unit)s) and field "
        "“%(field)s” are not a sampled stratum: check the response.", response=p["response"], unit=p["unit_id"],
        field=p["field"]),
    "db.no_file": lambda p: _("The survey database file cannot be found."),
    "db.unreadable": lambda p: _("The survey database cannot be read (%(reason)s).", reason=p["reason"]),
    "db.not_survey": lambda p: _("The database is not a survey database (missing tables: %(tables)s).",
                                 tables=", ".join(p["missing"])),
    "db.same_slug": lambda p: _("Units %(first)s and %(second)s have the same short name “%(slug)s”: rename "
                                "one.", first=p["first"], second=p["second"], slug=p["slug"]),
    "db.questionnaire_count": lambda p: _("The database holds %(n)s questionnaires.", n=_n(p["count"])),
    "db.bad_definition": lambda p: _("Questionnaire %(questionnaire)s, version %(version)s, cannot be read "
                                     "(%(reason)s).", questionnaire=p["questionnaire"], version=p["version"],
                                     reason=p["reason"]),
    "db.no_responses": lambda p: _("No responses from %(start)s to %(end)s.", **_dates(p)),
    "db.several_questionnaires": lambda p: _(
        "The responses are to several questionnaires (%(listing)s); the index is computed for one questionnaire "
        "at a time.", listing=_questionnaires(p["found"])),
    "db.undecodable": lambda p: _("The responses table cannot be decoded."),
    "db.answer_length": lambda p: _(
        "Response no. %(response)s has %(length)s answers but version %(version)s of the questionnaire has "
        "%(criteria)s criteria.", response=p["response"], length=_n(p["length"]), version=p["version"],
        criteria=_n(p["criteria"])),
    "db.answer_value": lambda p: _("Response no. %(response)s has an answer “%(answer)s” that is not 1 to 5, "
                                   "n or -.", response=p["response"], answer=p["answer"]),
    "db.unknown_unit_id": lambda p: _("Responses refer to unit id %(unit)s, which is not in the list of units.",
                                      unit=p["unit_id"]),
    "db.no_frame": lambda p: _("No sample has been drawn for exactly %(start)s – %(end)s.", **_dates(p)),
    "table.no_respondents": lambda p: _("There are no respondents."),
    "table.nothing_to_estimate": lambda p: _("No respondent gave a valid answer (1 to 5) to any criterion: "
                                             "there is nothing to estimate."),
}


def note_text(note: str) -> str | None:
    """A coded analysis note in the page's language; None when it has no known code."""
    say = NOTES.get(getattr(note, "code", None))
    return say(note.params) if say else None


def error_text(exc: BaseException) -> tuple[str, bool]:
    """(the error in the page's language, True) for a coded analysis error, else (its English text, False)."""
    say = ERRORS.get(getattr(exc, "code", None))
    return (say(exc.params), True) if say else (str(exc), False)
