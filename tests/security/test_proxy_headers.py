"""Item 13 of issue 12: proxy headers are not trusted from anyone on localhost."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize("trusted, secure", [("0", False), ("1", True)])
def test_x_forwarded_proto_counts_only_with_a_trusted_proxy(make_server, trusted, secure):
    server = make_server(workers=1, env={"SURVEY_TRUSTED_PROXIES": trusted}).init(demo=False).start()
    answer = server.browser({"X-Forwarded-Proto": "https"}).get("/staff/login")
    assert answer.status == 200
    assert ("strict-transport-security" in answer.headers) is secure
    cookie = answer.header("set-cookie") or ""
    assert ("Secure" in cookie) is secure, cookie
