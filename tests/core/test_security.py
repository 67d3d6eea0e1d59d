import pytest

from survey import create_app
from survey.security import PlaceholderSecretKey
from survey.staff.auth import public


def make(tmp_path, **config):
    return create_app({"DATABASE": str(tmp_path / "s.sqlite3"), **config}, instance_path=str(tmp_path))


def test_refuses_to_serve_with_the_placeholder_secret_outside_debug(tmp_path):
    with pytest.raises(PlaceholderSecretKey, match="SECRET_KEY"):
        make(tmp_path)
    with pytest.raises(PlaceholderSecretKey):
        make(tmp_path, SECRET_KEY="changeme")


def test_debug_testing_and_a_real_key_are_fine(tmp_path):
    make(tmp_path, TESTING=True)
    make(tmp_path, DEBUG=True)
    make(tmp_path, SECRET_KEY="x" * 40)


def test_every_response_carries_the_security_headers(tmp_path):
    client = make(tmp_path, SECRET_KEY="x" * 40).test_client()
    response = client.get("/no-such-page")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_session_cookie_is_secure_only_over_https(tmp_path):
    app = make(tmp_path, SECRET_KEY="x" * 40)

    @app.get("/_touch")
    @public  # outside the citizen flow every page needs a login (survey/staff/auth.py)
    def touch():
        from flask import session
        session["x"] = 1
        return "ok"

    client = app.test_client()
    plain = client.get("/_touch").headers["Set-Cookie"]
    secure = client.get("/_touch", base_url="https://localhost").headers["Set-Cookie"]
    assert "Secure" not in plain and "HttpOnly" in plain and "SameSite=Lax" in plain
    assert "Secure" in secure
