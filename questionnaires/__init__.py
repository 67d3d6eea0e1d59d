"""Questionnaires as data: TOML files in this folder, validated on load.

The loader lives here (not in ``survey``) so that both the web app and
``analysis`` can read a questionnaire without the analysis importing the app.
How to write a questionnaire file: docs/questionnaires.md.
"""
from .loader import (
    COMMENT_MAX_LENGTH,
    DIRECTORY,
    LANGUAGES,
    MESSAGES,
    PARTS,
    RESPONDENT_CODES,
    Choice,
    Comment,
    Criterion,
    Factor,
    Questionnaire,
    QuestionnaireError,
    RespondentQuestion,
    Scale,
    Text,
    get,
    load,
    load_all,
)

__all__ = [
    "COMMENT_MAX_LENGTH", "DIRECTORY", "LANGUAGES", "MESSAGES", "PARTS", "RESPONDENT_CODES",
    "Choice", "Comment", "Criterion", "Factor", "Questionnaire", "QuestionnaireError",
    "RespondentQuestion", "Scale", "Text", "get", "load", "load_all",
]
