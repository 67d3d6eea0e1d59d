"""Which questionnaire versions exist: the shipped files, frozen in the database.

Every (id, version) that has ever been served is stored as canonical JSON in the
``questionnaires`` table, so a response is always read with the exact version
it was given under. Changing a shipped file without raising its version is
refused: that would silently rewrite the meaning of past answers.
"""
from __future__ import annotations

from functools import lru_cache

import sqlite_utils

import questionnaires
from questionnaires.loader import Questionnaire

from .responses import utc_timestamp
from .db import write_transaction


class QuestionnaireChanged(ValueError):
    pass


def register(db: sqlite_utils.Database, q: Questionnaire) -> bool:
    """Store ``q`` if its (id, version) is new; return True if stored."""
    rows = list(db.query("SELECT checksum FROM questionnaires WHERE id = ? AND version = ?", [q.id, q.version]))
    if rows:
        if rows[0]["checksum"] != q.checksum:
            raise QuestionnaireChanged(
                f"questionnaire {q.id!r} version {q.version} differs from the copy stored when it was "
                "first served; past responses were given under that copy. Raise `version` in the file "
                "to publish the change as a new version.")
        return False
    db.execute("INSERT INTO questionnaires (id, version, definition, checksum, loaded_at) VALUES (?, ?, ?, ?, ?)",
               [q.id, q.version, q.to_json(), q.checksum, utc_timestamp()])
    return True


def register_shipped(db: sqlite_utils.Database) -> list[str]:
    """Register every questionnaire file shipped in ``questionnaires/``; return the new ones."""
    added = []
    with write_transaction(db):
        for q in questionnaires.load_all().values():
            if register(db, q):
                added.append(f"{q.id} v{q.version}")
    return added


def latest(db: sqlite_utils.Database, questionnaire_id: str) -> Questionnaire | None:
    rows = list(db.query("SELECT definition FROM questionnaires WHERE id = ? ORDER BY version DESC LIMIT 1",
                         [questionnaire_id]))
    return _parse(rows[0]["definition"]) if rows else None


def version(db: sqlite_utils.Database, questionnaire_id: str, number: int) -> Questionnaire | None:
    rows = list(db.query("SELECT definition FROM questionnaires WHERE id = ? AND version = ?",
                         [questionnaire_id, number]))
    return _parse(rows[0]["definition"]) if rows else None


@lru_cache(maxsize=64)
def _parse(definition: str) -> Questionnaire:
    return Questionnaire.from_json(definition)
