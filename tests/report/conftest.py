import shutil
from datetime import date

import matplotlib
import pytest

matplotlib.use("Agg")

from analysis.report.build import write_report  # noqa: E402
from analysis.report.model import build_model  # noqa: E402

from . import oracle_inputs  # noqa: E402


@pytest.fixture(scope="session")
def inputs():
    return oracle_inputs.inputs()


@pytest.fixture(scope="session")
def report(inputs):
    return build_model(inputs)


@pytest.fixture(scope="session", params=["vi", "en"])
def made(request, tmp_path_factory, inputs):
    """The four files of the reference-data report, once per language for the whole session."""
    out = tmp_path_factory.mktemp(f"report-{request.param}") / "out"
    files = write_report(inputs, request.param, out)
    files.lang = request.param
    return files


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed (apt-get install -y poppler-utils); scripts/test installs it")
    return path


@pytest.fixture(scope="session")
def survey_db(tmp_path_factory):
    """HCMC's 22 districts, 3,000 simulated responses (Jan-Jun 2024), some excluded by staff;
    Cần Giờ keeps only 20 usable responses, so it must come out as 'too few responses'."""
    from survey import catalog, units
    from survey.db import connect
    from survey.migrations import migrate
    from survey.simulate import simulate

    path = tmp_path_factory.mktemp("db") / "survey.sqlite3"
    db = connect(path)
    migrate(db)
    catalog.register_shipped(db)
    units.load_demo(db)
    simulate(db, catalog.latest(db, "sipas-hcm-26"), 3000, 5, date(2024, 1, 1), date(2024, 6, 30))
    with db.conn:  # these simulated responses stand in for real ones (reports leave simulated ones out)
        db.execute("UPDATE responses SET simulated = 0")
    with db.atomic():
        db.execute("UPDATE responses SET excluded_at = '2024-07-01T00:00:00Z', excluded_by = 'staff', "
                   "excluded_reason = 'duplicate' WHERE id % 40 = 0")
        db.execute("UPDATE responses SET excluded_at = '2024-07-01T00:00:00Z', excluded_by = 'staff', "
                   "excluded_reason = 'test' WHERE excluded_at IS NULL AND unit_id = "
                   "(SELECT id FROM units WHERE slug = 'huyen-can-gio') AND id NOT IN (SELECT id FROM responses "
                   "WHERE unit_id = (SELECT id FROM units WHERE slug = 'huyen-can-gio') AND excluded_at IS NULL "
                   "ORDER BY id LIMIT 20)")
    db.close()
    return path
