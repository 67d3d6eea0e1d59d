"""Questionnaires as data: TOML files in this folder, validated on load.

The loader lives here (not in ``survey``) so that both the web app and
``analysis`` can read a questionnaire without the analysis importing the app.
"""
from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent
