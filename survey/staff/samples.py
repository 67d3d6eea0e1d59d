"""Probability samples on the dashboard: response tracking (AAPOR RR1/RR3) and the weighted index per frame."""
from __future__ import annotations

from flask import abort, render_template, request

from .. import frames
from ..db import get_db
from . import bp
from .analysis_text import error_text, note_text
from .auth import login_required


def _index(frame: dict) -> tuple[list[dict], dict | None, list[str]]:
    """(rows of the official index per unit and overall, problem, design notes) from the frame's sample.

    The problem ({"text", "translated"}) and the notes are in the staff member's language: the analysis
    engine's coded notes and errors (analysis/messages.py) are worded from the catalog
    (survey/staff/analysis_text.py)."""
    from flask import current_app

    import analysis
    from analysis.db import DbError

    try:
        data = analysis.load_db(current_app.config["DATABASE"], date_from=frame["period_from"],
                                date_to=frame["period_to"], frame=True, tz=current_app.config["TIMEZONE"])
        table = analysis.compute_table(data, target=None)
    except (DbError, ValueError) as exc:
        text, translated = error_text(exc)
        return [], {"text": text, "translated": translated}, []
    rows = [r for r in table.rows() if r["measure"] == "INDEX:ITEM_AVG"]
    rows.sort(key=lambda r: (r["level"] != "overall", r["district"]))
    notes = [note_text(n) for n in data.notes if getattr(n, "code", "").startswith("frame.")]
    return rows, None, [n for n in notes if n]


@bp.route("/samples")
@login_required("staff")
def samples():
    db = get_db()
    all_frames = frames.frames(db)
    if not all_frames:
        return render_template("staff/samples.html", frames=[], frame=None)
    wanted = request.args.get("frame", type=int)
    frame = next((f for f in all_frames if f["id"] == wanted), None) if wanted else all_frames[0]
    if frame is None:
        abort(404)
    table = frames.tracking(db, frame["id"]) if frame["sampled_at"] else None
    by = request.args.get("by", "unit")
    index, problem, notes = _index(frame) if table and table.overall.responded else ([], None, [])
    return render_template("staff/samples.html", frames=all_frames, frame=frame, table=table,
                           rows=(table.strata if by == "stratum" else table.units) if table else [], by=by,
                           index=index, problem=problem, notes=notes)
