"""Languages, texts and local formats for every page.

All texts are gettext messages in one catalog per language (survey/translations/<lang>/
LC_MESSAGES/messages.po, compiled to .mo; English is the source, scripts/translations
refreshes them). Staff pages call ``_()`` (Flask-Babel); the citizen and kiosk pages name
their texts by key: ``SOURCES`` (and survey/kiosk/messages.py) map a key to its English
source, and ``MESSAGES[key]`` gives ``{"vi": ..., "en": ...}`` from the catalog. A
deployment rewords any of them
without touching code through the ``MESSAGES`` setting, e.g. in
``instance/config.py``::

    MESSAGES = {"thanks.heading": {"vi": "Cảm ơn bà con!", "en": "Thank you!"}}

``t(key, **kw)`` returns the text in the current language with ``{name}``
placeholders filled; ``tr(obj)`` picks the current language from a bilingual
value of a questionnaire (``{"vi": ..., "en": ...}``). Both are available in
templates. The citizen pages' language is chosen per request: ``?lang=`` (kept in the
session from then on), else the session, else the ``DEFAULT_LANGUAGE`` setting. Staff pages
use the language the staff member chose (kept with their account), else
``STAFF_DEFAULT_LANGUAGE`` (Vietnamese). Dates, times and numbers are shown in the city's
time zone and the page's language (vi: 03/12/2026 14:31, 20.006, 52,2 %).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date, datetime, timezone
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import Babel, format_datetime, gettext, ngettext
from jinja2 import pass_context
from markupsafe import Markup

from .labels import N_

LANGUAGES = ("vi", "en")
# The gettext catalogs: survey/translations/<lang>/LC_MESSAGES/messages.po (and the compiled .mo).
TRANSLATIONS = os.path.join(os.path.dirname(__file__), "translations")

# The English source of every citizen and kiosk text, by key. The Vietnamese is in the gettext catalog
# (survey/translations/vi), with the staff pages' texts: one catalog, one way to translate.
SOURCES: dict[str, str] = {
    "site.name": N_("Citizen satisfaction survey"),
    "site.agency": N_("Rate the public service"),
    "site.skip": N_("Skip to main content"),
    "lang.switch": N_("Tiếng Việt"),
    "footer.privacy": N_("This survey is anonymous: no name, phone number or IP address is collected."),
    "index.title": N_("Choose the office you have just dealt with"),
    "index.lead": N_("Choose the office where you filed your application or received its result to start. It takes about 5 minutes."),
    "index.empty": N_("No office has been set up yet. Please contact the administrator."),
    "form.unit": N_("Office being rated"),
    "form.intro": N_("Please tell us how satisfied you are with each point below, from 1 (very dissatisfied) to 5 (very satisfied)."),
    "form.progress": N_("{required} questions to answer: {criteria} ratings ({parts} parts) and {about} about you; about 5 minutes."),
    "form.required_note": N_("Every question must be answered unless it says “optional”."),
    "form.anonymous": N_("Anonymous: we do not ask for your name or phone number."),
    "form.part": N_("Part {n} of {total}"),
    "form.question": N_("Question {n}"),
    "form.about_you": N_("About you"),
    "form.about_you_lead": N_("Used for statistics only; it cannot identify you."),
    "form.optional": N_("optional"),
    "form.comment_hint": N_("At most {max} characters. Please do not write your name or phone number."),
    "form.submit": N_("Send answers"),
    "form.renewed": N_("The page has just been renewed. Your answers are kept: please press “{button}” once more."),
    "form.not_stored": N_("We could not store your answers just now. They are still on the screen and nothing has been saved: please press send again in a few minutes."),
    "form.answered": N_("{done} of {total} answered"),
    "error.summary_title": N_("Your answers were not sent: {count} thing(s) to fix"),
    "error.summary_lead": N_("The answers you gave are kept."),
    "error.prefix": N_("Error:"),
    "error.title_prefix": N_("Error"),
    "error.criterion_missing": N_("Please choose a rating for question {n}."),
    "error.criterion_invalid": N_("Question {n}: “{value}” is not one of the ratings. Please choose again."),
    "error.respondent_missing": N_("Please choose an answer for “{question}”."),
    "error.respondent_invalid": N_("“{value}” is not one of the answers to “{question}”. Please choose again."),
    "error.comment_too_long": N_("Your comment has {length} characters, more than the limit of {max}. Please shorten it."),
    "thanks.title": N_("Thank you"),
    "thanks.heading": N_("Thank you for your answers!"),
    "thanks.body": N_("Your answers about {unit} have been recorded. They help the office serve people better."),
    "thanks.again": N_("Start again"),
    "page.nothing_saved": N_("Nothing has been saved."),
    "page.home": N_("Go to the list of offices"),
    "page.start_again": N_("Open the form again"),
    "page.400": N_("The request could not be understood"),
    "page.400_body": N_("Your browser sent a request we could not read."),
    "page.404": N_("Page not found"),
    "page.404_body": N_("There is no page at this address. Please check the link."),
    "page.404_unit": N_("We could not find the office “{slug}”"),
    "page.404_unit_body": N_("The QR code or link may be out of date. Please choose the office you have just dealt with:"),
    "page.405": N_("This action is not allowed here"),
    "page.405_body": N_("This address does not accept that kind of request."),
    "page.409": N_("The questionnaire has just been updated"),
    "page.409_body": N_("The form you filled in is an older version, so it was not saved. Please open the new form and answer again. We are sorry for the trouble."),
    "page.413": N_("What was sent is too large"),
    "page.413_body": N_("The form sent is larger than we accept."),
    "page.422": N_("The answers could not be accepted"),
    "page.500": N_("Something went wrong on our side"),
    "page.500_body": N_("Sorry, the server had a problem. Please try again in a few minutes."),
    "page.503": N_("The survey is not open yet"),
    "page.503_body": N_("The survey has not been set up yet. Please come back later."),
    "page.csrf": N_("This page has expired"),
    "page.csrf_body": N_("The survey page is no longer valid (it may have been open too long, or the browser blocks cookies), so the form was not sent. Your answers have not been saved. Please open the form again and fill it in."),
    "bad.unknown_field": N_("The form sent contains “{name}”, which is not part of the questionnaire."),
    "bad.repeated_field": N_("“{name}” was sent more than once; each question takes one answer."),
    "bad.damaged": N_("The form sent is missing or has a damaged identifier (“{name}”)."),
    "bad.unknown_questionnaire": N_("There is no questionnaire “{name}”."),
    "bad.channel": N_("“{name}” is not a survey channel."),
    'index.find_label': N_('Search by name (accents optional)'),
    'index.find': N_('Search'),
    'index.count': N_('{n} offices'),
    'index.found': N_('{n} office(s) match “{query}”.'),
    'index.none': N_("No office matches “{query}”. Try fewer words, for example only the ward's name."),
    'index.all': N_('Show every office'),
    'index.pages': N_('Pages of the list'),
    'index.page': N_('Page {n} of {total}'),
    'index.prev': N_('Previous page'),
    'index.next': N_('Next page'),
    'form.step': N_('Part {n} of {total}'),
    'form.next': N_('Next part'),
    'form.previous': N_('Back'),
    'form.comment_short': N_('Comment'),
    'error.questions': N_('Questions not answered:'),
    "index.group_count": N_("{count} units"),
    "index.former_area": N_("Area of the former {name}"),
    "index.other_units": N_("Other offices"),
    "index.groups_nav": N_("Go to a group"),
    # An old link (QR poster) to a unit that no longer exists, e.g. a district after 1 July 2025
    "gone.title": N_("{name} no longer exists"),
    "gone.body": N_("Since {date}, {name} is no longer an administrative unit: the administrative units were "
                    "reorganised. Its area now belongs to the wards and communes below. Please choose the one "
                    "where you have just dealt with your application to give your rating."),
    "gone.successors": N_("Wards and communes that took over its area"),
    "gone.partly": N_("Part of its area also went to"),
    "gone.none": N_("Please choose the office you have just dealt with from the list of offices."),
    "gone.all_units": N_("See all offices"),
    # Over a submission limit (survey/integrity.py): the form comes back with its answers.
    "limit.too_many": N_("Sorry, we have just received a lot of responses from this device or network, so we "
                         "cannot take another one right now. Your response has not been saved yet; your answers "
                         "are still below. Please press send again in about {minutes} minutes. Thank you!"),
}

# The kiosk's texts (survey/kiosk/messages.py) belong to the same table.
from .kiosk.messages import KIOSK_MESSAGES  # noqa: E402

SOURCES.update(KIOSK_MESSAGES)
# And the invitation pages' (survey/invite_messages.py).
from .invite_messages import INVITE_MESSAGES  # noqa: E402

SOURCES.update(INVITE_MESSAGES)


class _Messages(Mapping):
    """``MESSAGES[key]`` is ``{"vi": ..., "en": ...}``: the source text and its catalog translation."""

    def __getitem__(self, key: str) -> dict[str, str]:
        return {lang: _catalog_text(SOURCES[key], lang) for lang in LANGUAGES}

    def __iter__(self):
        return iter(SOURCES)

    def __len__(self) -> int:
        return len(SOURCES)


def _catalog_text(source: str, lang: str) -> str:
    from .labels import translations

    return translations(lang).gettext(source)


MESSAGES: Mapping[str, dict[str, str]] = _Messages()


# Blueprints whose pages staff see: their language is the staff member's own (see staff_language).
STAFF_BLUEPRINTS = frozenset({"staff", "posters"})


def language() -> str:
    """The language of the current request (``vi`` or ``en``)."""
    if not has_request_context():
        return current_app.config.get("DEFAULT_LANGUAGE", "vi")
    if "lang" not in g:
        g.lang = staff_language() if is_staff_page() else _choose_language()
    return g.lang


def _babel_locale() -> str:
    """The catalog's language: the page's; outside a request (CLI commands) English, the source."""
    return language() if has_request_context() else "en"


def is_staff_page() -> bool:
    return request.blueprint in STAFF_BLUEPRINTS


def staff_language() -> str:
    """A staff member's language: the one they chose (kept with their account), else the one chosen
    before signing in (kept in the session), else Vietnamese (STAFF_DEFAULT_LANGUAGE)."""
    from .staff.auth import current_user

    user = current_user()
    if user is not None and user.lang in LANGUAGES:
        return user.lang
    kept = session.get("staff_lang")
    if kept in LANGUAGES:
        return kept
    default = current_app.config.get("STAFF_DEFAULT_LANGUAGE", "vi")
    return default if default in LANGUAGES else "vi"


def _choose_language() -> str:
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session["lang"] = asked
        return asked
    kept = session.get("lang")
    if kept in LANGUAGES:
        return kept
    default = current_app.config.get("DEFAULT_LANGUAGE", "vi")
    return default if default in LANGUAGES else "vi"


def message(key: str, lang: str) -> str:
    overrides: Mapping[str, Mapping[str, str]] = current_app.config.get("MESSAGES") or {}
    return overrides.get(key, {}).get(lang) or _catalog_text(SOURCES[key], lang)


def t(key: str, /, **kw: Any) -> str:
    """The message ``key`` in the current language, with ``{name}`` placeholders filled."""
    text = message(key, language())
    return text.format(**kw) if kw else text


def tr(value: Any, lang: str | None = None) -> str:
    """The current language's text of a bilingual questionnaire value (falls back to Vietnamese)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    lang = lang or language()
    return value.get(lang) or value.get("vi") or ""


def unit_name(unit: Mapping[str, Any]) -> str:
    return unit["name_en"] if language() == "en" else unit["name_vi"]


def row_unit(row: Mapping[str, Any]) -> str:
    """The unit name of a query row (unit_name_vi / unit_name_en) in the page's language."""
    if language() == "en" and row.get("unit_name_en"):
        return row["unit_name_en"]
    return row.get("unit_name_vi") or ""


def period_label(period: Any) -> str:
    """A period as 'dd/mm/yyyy – dd/mm/yyyy' in the page's language."""
    return f"{local_date(period.start)} – {local_date(period.end)}"


def _switch_links() -> dict[str, str]:
    """The other language and the current address asking for it (the visible switch)."""
    other = "en" if language() == "vi" else "vi"
    args = request.args.to_dict()
    args["lang"] = other
    return {"other_language": other, "switch_url": f"{request.path}?{urlencode(args)}"}


# --- Local dates, times and numbers (the city's time zone, the page's language) ----------------

DATETIME_PATTERNS = {"vi": "dd/MM/yyyy HH:mm", "en": "d MMM yyyy, HH:mm"}
DATE_PATTERNS = {"vi": "dd/MM/yyyy", "en": "d MMM yyyy"}
SHORT_DATE_PATTERNS = {"vi": "dd/MM", "en": "d MMM"}


def _moment(value: Any) -> datetime | None:
    """A stored UTC time ('2026-12-03T07:31:00Z', or a datetime; naive means UTC) as aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def local_datetime(value: Any, *, seconds: bool = False) -> str:
    """A stored UTC time as the city's local time in the page's language: vi '03/12/2026 14:31'."""
    moment = _moment(value)
    if moment is None:
        return ""
    pattern = DATETIME_PATTERNS[language()] + (":ss" if seconds else "")
    return format_datetime(moment, pattern)


def local_wallclock(value: datetime, *, seconds: bool = False) -> str:
    """An already-local (naive) wall-clock time in the page's language."""
    pattern = DATETIME_PATTERNS[language()] + (":ss" if seconds else "")
    from babel.dates import format_datetime as babel_format

    return babel_format(value, pattern, locale=language())


def local_date(value: Any, short: bool = False) -> str:
    """A calendar date (date, or 'YYYY-MM-DD') in the page's language: vi '03/12/2026'."""
    return date_formatter(short)(value)


@lru_cache(maxsize=4096)
def _format_date(kind: type, value: date, pattern: str, lang: str) -> str:
    """Babel's date formatting, remembered: a dashboard shows a row per day of a long period
    (``kind`` keeps a date and a datetime of the same day apart)."""
    from babel.dates import format_date

    return format_date(value, pattern, locale=lang)


def plain_date(value: Any) -> str:
    """A date as a citizen reads it in a sentence: vi '1/7/2025', en '1 July 2025' (citizen and kiosk pages)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    from babel.dates import format_date

    return format_date(value, "d/M/yyyy" if language() == "vi" else "d MMMM yyyy", locale=language())


def number(value: Any, digits: int | None = None) -> str:
    """A number in the page's language: vi 20.006 and 52,2; en 20,006 and 52.2."""
    if value is None:
        return "—"
    return _decimal(value, _fixed(digits))


def _fixed(digits: int | None) -> str | None:
    """The Babel pattern of a number with ``digits`` decimals (None: the language's own)."""
    return None if digits is None else "#,##0" + ("." + "0" * digits if digits else "")


def _decimal(value: Any, pattern: str | None = None, locale: str | None = None) -> str:
    """Babel's format_decimal in the page's language (outside a request, e.g. a CLI command: English),
    remembered for ints and floats (pages show the same small counts many times); a number too
    large for its pattern (a hostile 1e300 typed into a form) in scientific notation."""
    from decimal import InvalidOperation

    from babel.numbers import format_decimal as babel_format, format_scientific

    locale = locale or _babel_locale()
    try:
        if type(value) in (int, float):
            return _format_decimal(type(value), value, pattern, locale)
        return babel_format(value, format=pattern, locale=locale)
    except InvalidOperation:
        return format_scientific(value, format="0.######E0", locale=locale)


@lru_cache(maxsize=8192)
def _format_decimal(kind: type, value: float, pattern: str | None, locale: str) -> str:
    """``kind`` keeps 1 and 1.0 apart."""
    from babel.numbers import format_decimal as babel_format

    return babel_format(value, format=pattern, locale=locale)


def decimal(value: Any, max_digits: int = 6) -> str:
    """A number with the decimals it needs (up to ``max_digits``) in the page's language: vi 0,05 and 1,5."""
    if value is None:
        return "—"
    return _decimal(value, "#,##0." + "#" * max_digits)


def plural(singular: str, plural_: str, num: int, /, **variables: Any) -> str:
    """Flask-Babel's ngettext with ``%(num)s`` in the page's number format (vi 1.234 phiếu), for the
    staff views (imported there as ``ngettext``) and, through :func:`_template_ngettext`, templates."""
    text, variables = _plural_parts(singular, plural_, num, variables)
    return text % variables


def _plural_parts(singular: str, plural_: str, num: int, variables: dict) -> tuple[str, dict]:
    """The catalog's singular or plural form for ``num``, and ``variables`` with ``num`` formatted."""
    from flask_babel import get_translations

    return get_translations().ungettext(singular, plural_, num), {"num": number(num), **variables}


@pass_context
def _template_ngettext(context, singular: str, plural_: str, num: int, /, **variables: Any) -> str:
    """Jinja's newstyle ngettext (as Flask-Babel installs it) with ``%(num)s`` in the page's format."""
    text, variables = _plural_parts(singular, plural_, num, variables)
    if context.eval_ctx.autoescape:
        text = Markup(text)
    return text % variables


def number_formatter():
    """``number`` for the many cells of one table: the page's language looked up once (a day-by-day
    table of a long period has hundreds of cells)."""
    locale = _babel_locale()

    def formatted(value: Any, digits: int | None = None) -> str:
        if value is None:
            return "—"
        return _decimal(value, _fixed(digits), locale)

    return formatted


def date_formatter(short: bool = False):
    """``local_date`` for the many cells of one table, the page's language looked up once."""
    lang = language()
    pattern = (SHORT_DATE_PATTERNS if short else DATE_PATTERNS)[lang]

    def formatted(value: Any) -> str:
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            value = date.fromisoformat(value[:10])
        return _format_date(type(value), value, pattern, lang)

    return formatted


def percent(value: Any, digits: int = 1) -> str:
    """A share already in percent, in the page's language: vi '52,2 %'."""
    if value is None:
        return "—"
    return number(value, digits) + "\u00a0%"


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "vi")
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config.get("TIMEZONE", "Asia/Ho_Chi_Minh")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", TRANSLATIONS)
    Babel(app, locale_selector=_babel_locale)
    from .labels import label

    app.jinja_env.globals.update(t=t, tr=tr, language=language, unit_name=unit_name, label=label,
                                 row_unit=row_unit, period_label=period_label,
                                 role_name=lambda code: label("role", code),
                                 channel_name=lambda code: label("channel", code),
                                 local_datetime=local_datetime, local_date=local_date, plain_date=plain_date,
                                 local_wallclock=local_wallclock, number=number, percent=percent,
                                 number_formatter=number_formatter, date_formatter=date_formatter)
    app.jinja_env.globals["ngettext"] = _template_ngettext    # after Babel(app) installed its own
    app.jinja_env.filters.update(local_datetime=local_datetime, local_date=local_date, number=number,
                                 percent=percent)
    app.context_processor(_switch_links)
