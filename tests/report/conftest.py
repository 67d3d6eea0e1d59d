import shutil

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
