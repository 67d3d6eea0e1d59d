"""Fixtures for the probability-sample tests: the app's CLI, a frame file, the database's rows."""
from __future__ import annotations

import pytest

from survey import db as database

from .case import PERIOD, add_case_units, write_frame_csv

P = f"{PERIOD[0]}:{PERIOD[1]}"


class Cli:
    def __init__(self, app):
        self.app = app
        add_case_units(app.config["DATABASE"])

    def __call__(self, *args):
        return self.app.test_cli_runner().invoke(args=[str(a) for a in args], catch_exceptions=False)

    def rows(self, sql: str, params=()) -> list[dict]:
        db = database.connect(self.app.config["DATABASE"])
        try:
            return list(db.query(sql, params))
        finally:
            db.close()

    def one(self, sql: str, params=()):
        return next(iter(self.rows(sql, params)[0].values()))


@pytest.fixture
def cli(app):
    return Cli(app)


@pytest.fixture
def frame_csv(tmp_path):
    return write_frame_csv(tmp_path / "dossiers.csv")


@pytest.fixture
def sampled(cli, frame_csv, tmp_path):
    """A frame imported, a sample drawn and its invitations exported; returns the gateway CSV rows."""
    import csv

    assert cli("import-frame", frame_csv, "--period", P).exit_code == 0
    r = cli("draw-sample", "--period", P, "--margin", "0.08", "--seed", "7", "--response-rate", "0.6")
    assert r.exit_code == 0, r.output
    out = tmp_path / "invitations.csv"
    r = cli("export-invitations", "--period", P, "--out", out, "--base-url", "https://khaosat.example.gov.vn")
    assert r.exit_code == 0, r.output
    with open(out, encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))
