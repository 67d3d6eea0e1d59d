"""Item 14 of issue 12 (part): an integer SECRET_KEY stops the server at start, not every request."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(180)


def test_an_all_digit_secret_key_is_refused_at_start(make_server):
    server = make_server(workers=1, env={"SURVEY_SECRET_KEY": "12345678901234567890123456789012"})
    server.init(demo=False)
    with pytest.raises(AssertionError) as refused:
        server.start()
    assert "SECRET_KEY must be text" in str(refused.value)
