"""Read a questionnaire file, check it, and turn it into frozen dataclasses.

The schema is data: ``KEYS`` lists, per section, the keys it must have and the
keys it may have (with their defaults); every other key is a typo and is
refused. The few checks that need more than one value (codes unique, every
criterion's factor defined, every factor used, the scale's labels) follow in
``_Reader``. The first problem found raises ``QuestionnaireError`` naming the
file, the item and what is wrong; the wording of every message lives in
``MESSAGES``.

A stored version is the canonical JSON of ``Questionnaire.to_json()``;
``Questionnaire.from_json()`` reads it back through the same checks, so a
version kept in the database round-trips exactly (same JSON, same checksum).
"""
from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

DIRECTORY = Path(__file__).resolve().parent

LANGUAGES = ("vi", "en")
# The responses table has one column for each of these, so no other code can be stored.
RESPONDENT_CODES = ("respondent_type", "gender", "age_band", "education", "occupation", "ethnicity", "field")
# The responses table refuses longer comments.
COMMENT_MAX_LENGTH = 1200
# Answers are stored as one character per criterion, '1'..'5'.
SCALE_BOUNDS = (1, 5)

# Allowed keys per section: (required keys, {optional key: default}).
KEYS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "questionnaire": (("id", "version", "title", "scale", "factors", "criteria", "respondent", "comment"), {}),
    "scale": (("min", "max", "satisfied_from", "labels", "not_applicable"), {}),
    "factor": (("code", "text"), {"part": None}),
    "criterion": (("code", "factor", "text"), {"weight": 1.0, "not_applicable": False, "source": "national"}),
    "respondent": (("code", "text", "options"), {"required": False}),
    "option": (("code", "text"), {}),
    "comment": (("max_length", "text"), {}),
    "text": (LANGUAGES, {}),
}

MESSAGES = {
    "unreadable": "cannot read the file: {error}",
    "not_utf8": "the file is not UTF-8 text: {error}",
    "bad_toml": "invalid TOML: {error}",
    "bad_json": "invalid JSON: {error}",
    "not_table": "must be a table, got {got}",
    "not_text": "must be a table of translations (vi = \"...\", en = \"...\"), got {got}",
    "not_list": "'{key}' must be a list of tables, got {got}",
    "empty_list": "'{key}' is empty: at least one {what} is needed",
    "unknown_key": "unknown key '{key}' ({hint})",
    "missing_key": "missing required key '{key}'",
    "missing_translation": "missing translation '{key}' (both vi and en are required)",
    "empty_text": "the '{lang}' text is empty",
    "bad_id": "id must be lowercase letters, digits and hyphens (it names the file), got {got!r}",
    "id_mismatch": "id '{id}' does not match the file name '{expected}.toml'",
    "bad_version": "version must be a positive integer, got {got!r}",
    "bad_code": "code must be letters, digits, '_', '.', '+' or '-' with no spaces, got {got!r}",
    "duplicate_code": "duplicate code '{code}' (also used by {what} #{first})",
    "unknown_factor": "unknown factor {got!r} (defined factors: {known})",
    "empty_factor": "no criterion belongs to this factor",
    "bad_part": "part must be one of {known}, got {got!r}",
    "mixed_parts": "either every factor has a part or none does; this one has none",
    "bad_weight": "weight must be a number greater than 0, got {got!r}",
    "bad_bool": "'{key}' must be true or false, got {got!r}",
    "bad_source": "source must be a short code such as 'national' or 'hcmc', got {got!r}",
    "bad_scale_range": "min and max must be whole numbers with {low} <= min < max <= {high} "
                       "(answers are stored as one digit), got min={min!r}, max={max!r}",
    "bad_satisfied_from": "satisfied_from must be a whole number above min and at most max "
                          "({min}..{max}), got {got!r}",
    "missing_label": "no label for the value {value} (labels are needed for each of {min}..{max})",
    "extra_label": "label {key!r} is not a value of the scale {min}..{max}",
    "bad_respondent_code": "unknown respondent question code {got!r} "
                           "(allowed: {known}; the responses table has one column for each)",
    "bad_max_length": "max_length must be a positive integer of at most {limit}, got {got!r}",
}

_ID = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*\Z")


class QuestionnaireError(ValueError):
    """A questionnaire file (or stored JSON) that cannot be used.

    ``file``, ``item`` and ``kind`` (a key of ``MESSAGES``) are kept as
    attributes; ``str(error)`` reads ``"<file>: <item>: <problem>"``.
    """

    def __init__(self, file: str, item: str, kind: str, **details: Any):
        self.file, self.item, self.kind, self.details = file, item, kind, details
        super().__init__(f"{file}: {item}: {MESSAGES[kind].format(**details)}")


@dataclass(frozen=True)
class Text:
    """The same words in Vietnamese and English."""

    vi: str
    en: str

    def __getitem__(self, lang: str) -> str:
        if lang not in LANGUAGES:
            raise KeyError(lang)
        return getattr(self, lang)

    def get(self, lang: str) -> str:
        """The text in ``lang``; Vietnamese for any language we do not have."""
        return getattr(self, lang) if lang in LANGUAGES else self.vi

    def to_dict(self) -> dict[str, str]:
        return {"vi": self.vi, "en": self.en}


# What the analysis calls the parts of a questionnaire that has them.
PARTS = {
    "policy": Text("Thực thi chính sách", "Policy implementation"),
    "services": Text("Cung ứng dịch vụ công", "Public services"),
}


@dataclass(frozen=True)
class Scale:
    min: int
    max: int
    satisfied_from: int
    labels: Mapping[int, Text] = field(hash=False)
    not_applicable: Text

    @property
    def values(self) -> range:
        return range(self.min, self.max + 1)


@dataclass(frozen=True)
class Factor:
    code: str
    text: Text
    part: str | None = None


@dataclass(frozen=True)
class Criterion:
    code: str
    factor: str
    text: Text
    weight: float = 1.0
    not_applicable: bool = False
    source: str = "national"


@dataclass(frozen=True)
class Choice:
    code: str
    text: Text


@dataclass(frozen=True)
class RespondentQuestion:
    code: str
    text: Text
    required: bool
    options: tuple[Choice, ...]

    @property
    def option_codes(self) -> tuple[str, ...]:
        return tuple(o.code for o in self.options)


@dataclass(frozen=True)
class Comment:
    max_length: int
    text: Text


@dataclass(frozen=True)
class Questionnaire:
    id: str
    version: int
    title: Text
    scale: Scale
    factors: tuple[Factor, ...]
    criteria: tuple[Criterion, ...]
    respondent: tuple[RespondentQuestion, ...]
    comment: Comment

    @property
    def criterion_codes(self) -> tuple[str, ...]:
        """Criterion codes in file order: the order of the stored answers string."""
        return tuple(c.code for c in self.criteria)

    @property
    def parts(self) -> tuple[str, ...]:
        """The parts its factors belong to, in order of first use; empty when none."""
        return tuple(dict.fromkeys(f.part for f in self.factors if f.part))

    def factor(self, code: str) -> Factor:
        return _find(self.factors, code, "factor", self.id)

    def criterion(self, code: str) -> Criterion:
        return _find(self.criteria, code, "criterion", self.id)

    def criteria_of(self, factor_code: str) -> tuple[Criterion, ...]:
        self.factor(factor_code)
        return tuple(c for c in self.criteria if c.factor == factor_code)

    def respondent_question(self, code: str) -> RespondentQuestion:
        return _find(self.respondent, code, "respondent question", self.id)

    def to_dict(self) -> dict[str, Any]:
        s = self.scale
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title.to_dict(),
            "scale": {
                "min": s.min, "max": s.max, "satisfied_from": s.satisfied_from,
                "labels": {str(v): t.to_dict() for v, t in s.labels.items()},
                "not_applicable": s.not_applicable.to_dict(),
            },
            "factors": [{"code": f.code, "text": f.text.to_dict(), "part": f.part} for f in self.factors],
            "criteria": [
                {"code": c.code, "factor": c.factor, "text": c.text.to_dict(), "weight": c.weight,
                 "not_applicable": c.not_applicable, "source": c.source}
                for c in self.criteria
            ],
            "respondent": [
                {"code": r.code, "text": r.text.to_dict(), "required": r.required,
                 "options": [{"code": o.code, "text": o.text.to_dict()} for o in r.options]}
                for r in self.respondent
            ],
            "comment": {"max_length": self.comment.max_length, "text": self.comment.text.to_dict()},
        }

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no spaces, UTF-8 text kept as is."""
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @cached_property
    def checksum(self) -> str:
        """sha256 (hex) of the UTF-8 bytes of ``to_json()``."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    @classmethod
    def from_json(cls, text: str | bytes, *, name: str = "<json>") -> Questionnaire:
        """Read a version stored with ``to_json()``; ``name`` is used in error messages."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise QuestionnaireError(name, "file", "bad_json", error=error) from None
        return _Reader(name).questionnaire(data)


def _find(items, code, what, qid):
    for item in items:
        if item.code == code:
            return item
    raise KeyError(f"questionnaire {qid!r} has no {what} {code!r}")


def load(path: str | Path) -> Questionnaire:
    """Read and check one questionnaire file; its ``id`` must equal the file's name."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as error:
        raise QuestionnaireError(str(path), "file", "bad_toml", error=error) from None
    except UnicodeDecodeError as error:
        raise QuestionnaireError(str(path), "file", "not_utf8", error=error) from None
    except OSError as error:
        raise QuestionnaireError(str(path), "file", "unreadable", error=error) from None
    return _Reader(str(path)).questionnaire(data, expected_id=path.stem)


def load_all(directory: str | Path = DIRECTORY) -> dict[str, Questionnaire]:
    """Every ``*.toml`` questionnaire in ``directory``, by id (raises on the first bad file)."""
    return {q.id: q for q in map(load, sorted(Path(directory).glob("*.toml")))}


_cache: dict[Path, tuple[tuple[int, int], Questionnaire]] = {}


def get(id: str, directory: str | Path = DIRECTORY) -> Questionnaire:
    """The questionnaire ``<directory>/<id>.toml``, re-read when the file changes.

    Raises ``KeyError`` for an id with no file (ids come from URLs and settings).
    """
    if not isinstance(id, str) or not _ID.fullmatch(id):
        raise KeyError(f"not a questionnaire id: {id!r}")
    path = Path(directory) / f"{id}.toml"
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise KeyError(f"no questionnaire {id!r} in {directory}") from None
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(path)
    if cached is None or cached[0] != stamp:
        cached = _cache[path] = (stamp, load(path))
    return cached[1]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _got(value: Any) -> str:
    names = {str: "a string", list: "a list", dict: "a table", bool: "a boolean", int: "an integer", float: "a number"}
    return names.get(type(value), type(value).__name__)


class _Reader:
    """Checks the parsed file (TOML or JSON, both plain dicts and lists) section by section."""

    def __init__(self, file: str):
        self.file = file

    def fail(self, item: str, kind: str, **details: Any):
        raise QuestionnaireError(self.file, item, kind, **details)

    def table(self, value: Any, item: str, section: str) -> dict[str, Any]:
        """``value`` as a dict with defaults filled in, after checking its keys against ``KEYS``."""
        if not isinstance(value, dict):
            self.fail(item, "not_text" if section == "text" else "not_table", got=_got(value))
        required, optional = KEYS[section]
        allowed = (*required, *optional)
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean '{close[0]}'?" if close else "allowed keys: " + ", ".join(allowed)
                self.fail(item, "unknown_key", key=key, hint=hint)
        for key in required:
            if key not in value:
                self.fail(item, "missing_translation" if section == "text" else "missing_key", key=key)
        return {**optional, **value}

    def tables(self, value: Any, item: str, key: str, what: str) -> list[dict]:
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail(item, "not_list", key=key, got=_got(value))
        if not value:
            self.fail(item, "empty_list", key=key, what=what)
        return value

    def text(self, value: Any, item: str) -> Text:
        t = self.table(value, item, "text")
        for lang in LANGUAGES:
            if not isinstance(t[lang], str) or not t[lang].strip():
                self.fail(item, "empty_text", lang=lang)
        # NFC, so that the same words typed on another system give the same checksum.
        return Text(*(unicodedata.normalize("NFC", t[lang]) for lang in LANGUAGES))

    def code(self, value: Any, item: str) -> str:
        if not isinstance(value, str) or not _CODE.fullmatch(value):
            self.fail(item, "bad_code", got=value)
        return value

    def boolean(self, value: Any, item: str, key: str) -> bool:
        if not isinstance(value, bool):
            self.fail(item, "bad_bool", key=key, got=value)
        return value

    def coded(self, raws: list[dict], what: str, section: str):
        """Yield (item name, checked table, code) for each element of a list, refusing repeated codes."""
        first: dict[str, int] = {}
        for number, raw in enumerate(raws, 1):
            code = raw.get("code")
            item = f"{what} '{code}'" if isinstance(code, str) and code else f"{what} #{number}"
            t = self.table(raw, item, section)
            code = self.code(t["code"], item)
            if code in first:
                self.fail(item, "duplicate_code", code=code, what=what, first=first[code])
            first[code] = number
            yield item, t, code

    def questionnaire(self, data: Any, expected_id: str | None = None) -> Questionnaire:
        top = self.table(data, "top level", "questionnaire")
        if not isinstance(top["id"], str) or not _ID.fullmatch(top["id"]):
            self.fail("id", "bad_id", got=top["id"])
        if expected_id is not None and top["id"] != expected_id:
            self.fail("id", "id_mismatch", id=top["id"], expected=expected_id)
        if not _is_int(top["version"]) or top["version"] < 1:
            self.fail("version", "bad_version", got=top["version"])
        title = self.text(top["title"], "title")
        scale = self.scale(top["scale"])
        factors = self.factors(top["factors"])
        return Questionnaire(
            id=top["id"],
            version=top["version"],
            title=title,
            scale=scale,
            factors=factors,
            criteria=self.criteria(top["criteria"], factors),
            respondent=self.respondent(top["respondent"]),
            comment=self.comment(top["comment"]),
        )

    def scale(self, value: Any) -> Scale:
        s = self.table(value, "scale", "scale")
        low, high = s["min"], s["max"]
        if not (_is_int(low) and _is_int(high) and SCALE_BOUNDS[0] <= low < high <= SCALE_BOUNDS[1]):
            self.fail("scale", "bad_scale_range", low=SCALE_BOUNDS[0], high=SCALE_BOUNDS[1], min=low, max=high)
        if not _is_int(s["satisfied_from"]) or not low < s["satisfied_from"] <= high:
            self.fail("scale", "bad_satisfied_from", min=low, max=high, got=s["satisfied_from"])
        labels = s["labels"]
        if not isinstance(labels, dict):
            self.fail("scale labels", "not_table", got=_got(labels))
        for key in labels:
            if key not in {str(v) for v in range(low, high + 1)}:
                self.fail("scale labels", "extra_label", key=key, min=low, max=high)
        for v in range(low, high + 1):
            if str(v) not in labels:
                self.fail("scale labels", "missing_label", value=v, min=low, max=high)
        return Scale(
            min=low, max=high, satisfied_from=s["satisfied_from"],
            labels=MappingProxyType({v: self.text(labels[str(v)], f"scale label {v}") for v in range(low, high + 1)}),
            not_applicable=self.text(s["not_applicable"], "scale not_applicable"),
        )

    def factors(self, value: Any) -> tuple[Factor, ...]:
        factors = []
        for item, f, code in self.coded(self.tables(value, "factors", "factors", "factor"), "factor", "factor"):
            if f["part"] is not None and (not isinstance(f["part"], str) or f["part"] not in PARTS):
                self.fail(item, "bad_part", known=", ".join(PARTS), got=f["part"])
            factors.append(Factor(code, self.text(f["text"], f"{item} text"), f["part"]))
        with_part = [f for f in factors if f.part]
        if with_part and len(with_part) < len(factors):
            self.fail(f"factor '{next(f.code for f in factors if not f.part)}'", "mixed_parts")
        return tuple(factors)

    def criteria(self, value: Any, factors: tuple[Factor, ...]) -> tuple[Criterion, ...]:
        known = [f.code for f in factors]
        criteria = []
        for item, c, code in self.coded(self.tables(value, "criteria", "criteria", "criterion"), "criterion", "criterion"):
            if c["factor"] not in known:
                self.fail(item, "unknown_factor", got=c["factor"], known=", ".join(known))
            weight = c["weight"]
            if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not (math.isfinite(weight) and weight > 0):
                self.fail(item, "bad_weight", got=weight)
            if not isinstance(c["source"], str) or not _CODE.fullmatch(c["source"]):
                self.fail(item, "bad_source", got=c["source"])
            criteria.append(Criterion(
                code=code, factor=c["factor"], text=self.text(c["text"], f"{item} text"), weight=float(weight),
                not_applicable=self.boolean(c["not_applicable"], item, "not_applicable"), source=c["source"],
            ))
        used = {c.factor for c in criteria}
        for f in factors:
            if f.code not in used:
                self.fail(f"factor '{f.code}'", "empty_factor")
        return tuple(criteria)

    def respondent(self, value: Any) -> tuple[RespondentQuestion, ...]:
        # An empty list is allowed: a questionnaire may ask nothing about the respondent.
        if value == []:
            return ()
        questions = []
        for item, r, code in self.coded(self.tables(value, "respondent", "respondent", "question"),
                                        "respondent question", "respondent"):
            if code not in RESPONDENT_CODES:
                self.fail(item, "bad_respondent_code", got=code, known=", ".join(RESPONDENT_CODES))
            options = tuple(
                Choice(option, self.text(o["text"], f"{option_item} text"))
                for option_item, o, option in self.coded(self.tables(r["options"], item, "options", "option"),
                                                         f"{item} option", "option")
            )
            questions.append(RespondentQuestion(
                code, self.text(r["text"], f"{item} text"), self.boolean(r["required"], item, "required"), options,
            ))
        return tuple(questions)

    def comment(self, value: Any) -> Comment:
        c = self.table(value, "comment", "comment")
        n = c["max_length"]
        if not _is_int(n) or not 0 < n <= COMMENT_MAX_LENGTH:
            self.fail("comment", "bad_max_length", limit=COMMENT_MAX_LENGTH, got=n)
        return Comment(n, self.text(c["text"], "comment text"))
