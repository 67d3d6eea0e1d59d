"""A small, fully deterministic probability-sample case: frame, sample, responses, outcomes.

Used by the tests and by tests/fixtures/frame/make_case.py, which wrote the frozen
R reference numbers (tests/fixtures/frame/README.md).
"""
from __future__ import annotations

import random
from datetime import date
from pathlib import Path

from survey import catalog, frames, invitations, responses
from survey import db as database

PERIOD = ("2025-10-01", "2025-12-31")
# Units of the case's own (valid whatever the demo units' periods): code, slug, names, population.
CASE_UNITS = (("C01", "case-a", "Phường A", "Ward A", 41000), ("C02", "case-b", "Phường B", "Ward B", 52000),
              ("C03", "case-c", "Phường C", "Ward C", 23000))
UNITS = tuple(u[1] for u in CASE_UNITS)


def add_case_units(db_path: str) -> None:
    """Insert the case's units (no validity limits, no parent) unless they are there."""
    db = database.connect(db_path)
    try:
        for code, slug, vi, en, population in CASE_UNITS:
            db.execute("INSERT INTO units (code, slug, name_vi, name_en, kind, period, population) "
                       "SELECT ?, ?, ?, ?, 'phuong', '', ? WHERE NOT EXISTS (SELECT 1 FROM units WHERE slug = ?)",
                       [code, slug, vi, en, population, slug])
    finally:
        db.close()
FIELDS = ("land", "construction", "civil_status", "justice")


def write_frame_csv(path: Path, *, dossiers: int = 2400, seed: int = 11) -> Path:
    rnd = random.Random(seed)
    weights = {"land": 5, "construction": 3, "civil_status": 6, "justice": 1}
    fields = [f for f in FIELDS for _ in range(weights[f])]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("dossier,unit,field,completed_at,contact\n")
        for i in range(dossiers):
            unit = UNITS[0] if i % 5 < 2 else UNITS[1] if i % 5 < 4 else UNITS[2]
            day = date(2025, 10, 1).toordinal() + rnd.randrange(92)
            contact = f"+84 9{i:08d}" if i % 3 else f"nguoi{i}@example.vn"
            handle.write(f"HS-2025-{i:06d},{unit},{rnd.choice(fields)},{date.fromordinal(day)},{contact}\n")
    return path


def build(db_path: str, tmp: Path, *, respond_share: float = 0.55, ineligible_every: int = 23, seed: int = 3):
    """Import the frame, draw the sample (seed 7), answer some invitations, mark some ineligible."""
    add_case_units(db_path)
    db = database.connect(db_path)
    try:
        frame_csv = write_frame_csv(tmp / "frame.csv")
        fields = frames.field_codes(db, "sipas-hcm-26")
        frames.import_frame(db, frame_csv, PERIOD, fields=fields)
        frame = frames.find_frame(db, PERIOD)
        plans = frames.plan_sample(db, frame, margin=0.08, response_rate=0.6)
        frames.draw_sample(db, frame, seed=7, plans=plans)
        frame = frames.find_frame(db, PERIOD)
        q = catalog.latest(db, "sipas-hcm-26")
        rnd = random.Random(seed)
        sampled = list(db.query("SELECT d.id, d.dossier, s.unit_id, s.field FROM frame_dossiers d JOIN frame_strata s "
                                "ON s.id = d.stratum_id WHERE d.frame_id = ? AND d.sampled = 1 ORDER BY d.dossier",
                                [frame["id"]]))
        ineligible = []
        answered = 0
        for k, row in enumerate(sampled):
            if k % ineligible_every == 5:
                ineligible.append(row["dossier"])
                continue
            # response propensity differs by field: the non-response adjustment matters
            share = respond_share * (0.5 if row["field"] == "land" else 1.2 if row["field"] == "justice" else 1.0)
            if rnd.random() >= share:
                continue
            inv = db.execute("SELECT id FROM invitations WHERE dossier_id = ?", [row["id"]]).fetchone()[0]
            found = invitations.Found(inv, row["id"], frame["id"], row["unit_id"], row["field"], "open")
            level = {"land": 0.55, "construction": 0.7, "civil_status": 0.8, "justice": 0.65}[row["field"]]
            answers = {}
            for c in q.criteria:
                r = rnd.random()
                answers[c.code] = (None if r < 0.03 else "na" if (r < 0.06 and c.not_applicable)
                                   else rnd.choice([4, 5]) if rnd.random() < level else rnd.choice([1, 2, 3]))
            resp = responses.Response(
                uuid=f"00000000-0000-4000-8000-{k:012d}", questionnaire_id=q.id, questionnaire_version=q.version,
                unit_id=row["unit_id"], channel="invitation", lang="vi", started_at="2026-01-05T02:00:00Z",
                submitted_at="2026-01-05T02:06:00Z", answers=responses.encode_answers(q.criterion_codes, answers),
                respondent={"field": row["field"]}, frame_id=frame["id"])
            with database.write_transaction(db):
                assert invitations.mark_used(db, found, date(2026, 1, 5))
                responses.save(db, resp)
            answered += 1
        outcomes = tmp / "outcomes.csv"
        outcomes.write_text("dossier,outcome\n" + "".join(f"{d},ineligible\n" for d in ineligible), encoding="utf-8")
        frames.record_outcomes(db, frame, outcomes)
        return frame["id"], answered, len(ineligible)
    finally:
        db.close()


CASES = {"main": {"respond_share": 0.55, "min_cell": 10},      # 287 respondents, 2 cells collapsed
         "sparse": {"respond_share": 0.12, "min_cell": 5}}     # 65 respondents, lonely strata, units pooled


def load_case(name: str, folder: Path):
    """Build case ``name`` in ``folder``; return (database path, SurveyData with the frame design)."""
    import analysis
    from survey import create_app
    from tests.conftest import prepare_database

    opts = CASES[name]
    db_path = str(folder / "survey.sqlite3")
    app = create_app({"DATABASE": db_path, "SECRET_KEY": "case-" * 10, "TESTING": True}, instance_path=str(folder))
    prepare_database(app)
    build(db_path, folder, respond_share=opts["respond_share"])
    return db_path, analysis.load_db(db_path, date_from=PERIOD[0], date_to=PERIOD[1], min_cell=opts["min_cell"])
