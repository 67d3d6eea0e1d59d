"""The questionnaire form, built from the questionnaire at request time (ONS style).

One field class per kind of answer: :class:`ChoiceAnswer` for a rating (the
scale's 1..5, plus ``na`` where a criterion allows "not applicable") and for a
respondent question (its option codes), :class:`CommentAnswer` for the free
comment. Every message comes from :mod:`survey.i18n` in the respondent's
language, so it is built when validation runs, not when the class is made.

Every criterion is required: a SIPAS index is only comparable between units
when each respondent rated every criterion, and a criterion that may not apply
to someone (feedback handling, online filing) offers "not applicable" instead
of a blank. Respondent questions are required where the questionnaire says so.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime, timezone

from flask import current_app
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer
from werkzeug.datastructures import MultiDict
from wtforms import Field, HiddenField
from wtforms.validators import StopValidation
from wtforms.widgets import TextArea, TextInput

from questionnaires.loader import Questionnaire

from .. import integrity
from ..i18n import t, tr

NOT_APPLICABLE = "na"
HIDDEN_FIELDS = ("csrf_token", "questionnaire_id", "version", "submission_id", "started")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def shown(value: str, limit: int = 30) -> str:
    """A client-sent value as it may be quoted back in a message: short, one line."""
    value = _CONTROL.sub("", value.replace("\n", " "))
    return value if len(value) <= limit else value[:limit] + "…"


class ChoiceAnswer(Field):
    """One answer out of fixed codes, rendered by the template as a radio group."""

    widget = TextInput()  # never rendered through WTForms: the template draws the radios

    def __init__(self, label: str = "", *, codes: list[str], required: bool,
                 missing: Callable[[], str], invalid: Callable[[str], str], **kwargs):
        super().__init__(label, **kwargs)
        self.codes = codes
        self.required = required
        self._missing = missing
        self._invalid = invalid

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = valuelist[0] if valuelist and valuelist[0] != "" else None

    def pre_validate(self, form) -> None:
        if self.data is None:
            if self.required:
                raise StopValidation(self._missing())
        elif self.data not in self.codes:
            bad, self.data = self.data, None  # never draw an invalid value back as chosen
            raise StopValidation(self._invalid(shown(bad)))


class CommentAnswer(Field):
    """Free text; line breaks normalised (browsers send CR LF) and control characters removed."""

    widget = TextArea()

    def __init__(self, label: str = "", *, max_length: int, **kwargs):
        super().__init__(label, **kwargs)
        self.max_length = max_length

    def process_formdata(self, valuelist: list[str]) -> None:
        text = valuelist[0] if valuelist else ""
        text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
        self.data = text or None

    def pre_validate(self, form) -> None:
        if self.data is not None and len(self.data) > self.max_length:
            raise StopValidation(t("error.comment_too_long", length=len(self.data), max=self.max_length))


class QuestionnaireForm(FlaskForm):
    """Hidden fields common to every questionnaire; the answers are added by :func:`form_class`."""

    class Meta:
        locales = False

    questionnaire_id = HiddenField()
    version = HiddenField()
    submission_id = HiddenField()
    started = HiddenField()

    questionnaire: Questionnaire

    def answer_values(self) -> dict[str, int | str | None]:
        out: dict[str, int | str | None] = {}
        for c in self.questionnaire.criteria:
            value = self[c.code].data
            out[c.code] = None if value is None else value if value == NOT_APPLICABLE else int(value)
        return out

    def respondent_values(self) -> dict[str, str | None]:
        return {r.code: self[r.code].data for r in self.questionnaire.respondent}

    def comment_value(self) -> str | None:
        return self["comment"].data


def form_class(q: Questionnaire) -> type[QuestionnaireForm]:
    """A form class with one field per criterion and respondent question of ``q``, plus the comment."""
    scale = [str(v) for v in range(q.scale.min, q.scale.max + 1)]
    fields: dict[str, object] = {"questionnaire": q}
    for n, c in enumerate(q.criteria, start=1):
        fields[c.code] = ChoiceAnswer(
            codes=scale + ([NOT_APPLICABLE] if c.not_applicable else []), required=True,
            missing=lambda n=n: t("error.criterion_missing", n=n),
            invalid=lambda value, n=n: t("error.criterion_invalid", n=n, value=value))
    for r in q.respondent:
        fields[r.code] = ChoiceAnswer(
            codes=[o.code for o in r.options], required=r.required,
            missing=lambda r=r: t("error.respondent_missing", question=tr(r.text)),
            invalid=lambda value, r=r: t("error.respondent_invalid", question=tr(r.text), value=value))
    fields["comment"] = CommentAnswer(max_length=comment_max_length(q))
    for name in fields:
        if name != "questionnaire" and hasattr(QuestionnaireForm, name):
            raise ValueError(f"questionnaire {q.id!r}: item code {name!r} is reserved by the web form")
    return type(f"QuestionnaireForm[{q.id} v{q.version}]", (QuestionnaireForm,), fields)


def comment_max_length(q: Questionnaire) -> int:
    comment = q.comment or {}
    return int(comment.get("max_length", 1200)) if hasattr(comment, "get") else int(comment.max_length)


def field_names(q: Questionnaire) -> set[str]:
    return {*HIDDEN_FIELDS, *(c.code for c in q.criteria), *(r.code for r in q.respondent), "comment"}


def repeated_field(formdata: MultiDict) -> str | None:
    """The name of a field sent more than once (``q01=4&q01=5``), if any."""
    for name in formdata.keys():
        if len(formdata.getlist(name)) > 1:
            return shown(name)
    return None


def unknown_field(formdata: MultiDict, q: Questionnaire) -> str | None:
    """The name of a posted field that ``q``'s form does not have, if any."""
    allowed = field_names(q)
    for name in formdata.keys():
        if name not in allowed:
            return shown(name)
    return None


# The time the form was first shown is kept in the form, signed with the
# secret key and bound to the submission id: a client's clock is never used.

class _ServerClockSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(integrity.now().timestamp())


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="survey.citizen.started", signer=_ServerClockSigner)


def new_submission() -> tuple[str, str]:
    """A fresh one-time submission id and its signed start ticket."""
    submission_id = str(uuid.uuid4())
    return submission_id, _serializer().dumps(submission_id)


def valid_submission_id(value: str | None) -> bool:
    try:
        parsed = uuid.UUID(value or "")
    except ValueError:
        return False
    return parsed.version == 4 and str(parsed) == value


def started_at(ticket: str | None, submission_id: str) -> datetime | None:
    """When the form with ``submission_id`` was shown, from its ticket; None if the ticket is not ours."""
    try:
        value, stamp = _serializer().loads(ticket or "", return_timestamp=True)
    except BadSignature:
        return None
    if value != submission_id:
        return None
    return min(stamp, integrity.now())
