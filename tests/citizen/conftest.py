"""Helpers for the citizen-flow tests: read a served form, fill it, post it."""
from __future__ import annotations

from html.parser import HTMLParser

import pytest

from survey import catalog
from survey import db as database


class FormReader(HTMLParser):
    """The hidden inputs, the checked radios and the textarea of a served page."""

    def __init__(self):
        super().__init__()
        self.hidden: dict[str, str] = {}
        self.checked: dict[str, str] = {}
        self.radios: dict[str, list[str]] = {}
        self.action: str | None = None
        self._in_textarea = False
        self.textarea = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action")
        elif tag == "input" and a.get("type") == "hidden":
            self.hidden[a["name"]] = a.get("value", "")
        elif tag == "input" and a.get("type") == "radio":
            self.radios.setdefault(a["name"], []).append(a["value"])
            if "checked" in a:
                self.checked[a["name"]] = a["value"]
        elif tag == "textarea":
            self._in_textarea = True

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._in_textarea = False

    def handle_data(self, data):
        if self._in_textarea:
            self.textarea += data


def read_form(html: bytes | str) -> FormReader:
    reader = FormReader()
    reader.feed(html.decode() if isinstance(html, bytes) else html)
    return reader


class Citizen:
    """What a respondent does, through the test client."""

    def __init__(self, app, client):
        self.app = app
        self.client = client

    read = staticmethod(read_form)

    def questionnaire(self):
        db = database.connect(self.app.config["DATABASE"])
        try:
            return catalog.latest(db, self.app.config["DEFAULT_QUESTIONNAIRE"])
        finally:
            db.close()

    def open(self, url: str = "/u/quan-1") -> FormReader:
        response = self.client.get(url)
        assert response.status_code == 200, response.status_code
        form = read_form(response.data)
        form.url = url
        return form

    def complete_answers(self, score: str = "4") -> dict[str, str]:
        q = self.questionnaire()
        answers = {c.code: score for c in q.criteria}
        for r in q.respondent:
            if r.required:
                answers[r.code] = r.options[0].code
        return answers

    def submit(self, form: FormReader, answers: dict | None = None, *, url: str | None = None, **extra):
        data = {**form.hidden, **(self.complete_answers() if answers is None else answers), **extra}
        return self.client.post(url or form.action, data=data)


@pytest.fixture
def citizen(app, client):
    return Citizen(app, client)


@pytest.fixture
def stored(app):
    """The rows of the responses table, read straight from the database file."""
    def rows():
        db = database.connect(app.config["DATABASE"])
        try:
            return list(db.query("SELECT * FROM responses ORDER BY id"))
        finally:
            db.close()
    return rows
