"""Who may see what: the login wall, roles, CSRF, throttling, sessions, the CLI."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Blueprint

from survey import create_app
from survey.staff import auth, users

from .conftest import PASSWORD, csrf_token

# Every endpoint outside the citizen flow, with the lowest role that may use it.
# A new endpoint must be added here (test_every_endpoint_is_in_the_role_table),
# which makes this table and the crawl below the source of truth for access.
ROLE_OF = {
    "staff.dashboard": "staff",
    "staff.dashboard_live": "staff",
    "staff.comments": "staff",
    "staff.comment_handled": "staff",
    "staff.quality": "staff",
    "staff.samples": "staff",
    "staff.response_detail": "staff",
    "staff.response_exclusion": "staff",
    "staff.integrity": "staff",
    "staff.integrity_review": "staff",
    "staff.former": "staff",
    "staff.logout": "staff",
    "staff.change_password": "staff",
    "staff.exports": "analyst",
    "staff.export_csv": "analyst",
    "staff.export_xlsx": "analyst",
    "staff.reports": "analyst",
    "staff.report_start": "analyst",
    "staff.report_job": "analyst",
    "staff.report_file": "analyst",
    "staff.admin_users": "admin",
    "staff.admin_user_change": "admin",
    "staff.admin_targets": "admin",
    "staff.admin_targets_save": "admin",
    "staff.admin_targets_apply": "admin",
    "staff.admin_fieldwork": "admin",
    "staff.admin_kiosks": "admin",
    "staff.admin_kiosk_change": "admin",
    "posters.index": "staff",
    "posters.poster": "staff",
    "posters.pdf": "staff",
}
ROLES = ("staff", "analyst", "admin")


def guarded_routes(app):
    """(endpoint, method, url) for every rule that is not citizen-facing, static or the login page."""
    out = []
    for rule in app.url_map.iter_rules():
        if auth.required_role_for_rule(app, rule.endpoint) is None:
            continue
        url = re.sub(r"<(?:int:)?[a-z_]+>", "1", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, method, url))
    return out


def test_every_endpoint_is_in_the_role_table(app):
    endpoints = {endpoint for endpoint, _, _ in guarded_routes(app)}
    assert endpoints == set(ROLE_OF), "classify new endpoints in ROLE_OF (and check their role)"


def test_only_citizen_static_and_login_endpoints_are_open(app):
    open_endpoints = {rule.endpoint for rule in app.url_map.iter_rules()
                      if auth.required_role_for_rule(app, rule.endpoint) is None}
    for endpoint in open_endpoints:
        # staff.set_language: the sign-in page's language switch (it only sets the session's language)
        assert endpoint in {"static", "staff.login", "staff.set_language"} \
            or endpoint.split(".")[0] in auth.OPEN_BLUEPRINTS


def test_anonymous_visitor_gets_the_login_page_for_every_non_citizen_url(app, client):
    routes = guarded_routes(app)
    assert len(routes) >= len(ROLE_OF)
    for endpoint, method, url in routes:
        response = client.open(url, method=method, data={})
        assert response.status_code == 302, (endpoint, method, response.status_code)
        assert response.headers["Location"].startswith("/staff/login"), (endpoint, method)
        login = client.get(response.headers["Location"])
        assert login.status_code == 200 and "Staff sign-in" in login.get_data(as_text=True)


def test_login_page_remembers_where_the_visitor_was_going(client, staff):
    response = client.get("/staff/comments?q=ch%E1%BB%9D")
    assert response.headers["Location"] == "/staff/login?next=/staff/comments?q%3Dch%25E1%25BB%259D"
    staff.create("lan", "staff")
    landed = staff.login("lan", next_url="/staff/comments?q=chờ")
    assert landed.status_code == 302 and landed.headers["Location"] == "/staff/comments?q=ch%E1%BB%9D"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example",
                                    "javascript:alert(1)", "/staff/\r\nSet-Cookie:x=1"])
def test_login_never_redirects_off_site(staff, target):
    staff.create("lan", "staff")
    response = staff.login("lan", next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/"


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(app, client, staff, role):
    staff.as_role(role)
    token = csrf_token(client, "/staff/account/password")
    for endpoint, method, url in guarded_routes(app):
        if endpoint == "staff.logout":
            continue  # would end the session the rest of the loop needs
        needed = ROLE_OF[endpoint]
        response = client.open(url, method=method, data={"csrf_token": token})
        allowed = ROLES.index(role) >= ROLES.index(needed)
        if allowed:
            assert response.status_code not in (401, 403), (role, endpoint, method)
            assert not response.headers.get("Location", "").startswith("/staff/login"), (role, endpoint)
            assert response.status_code < 500, (role, endpoint, method)
        else:
            assert response.status_code == 403, (role, endpoint, method, response.status_code)
            assert f"needs the {needed} role or above" in response.get_data(as_text=True)


def test_an_undecorated_view_outside_the_citizen_flow_is_admin_only(db, db_path):
    extra = Blueprint("reports", __name__)

    @extra.route("/reports/secret")
    def secret():
        return "secret report"

    app = create_app({"TESTING": True, "DATABASE": str(db_path), "SECRET_KEY": "t"})
    app.register_blueprint(extra)
    client = app.test_client()
    assert client.get("/reports/secret").headers["Location"].startswith("/staff/login")
    from .conftest import Staff

    s = Staff(client, db)
    s.as_role("analyst")
    assert client.get("/reports/secret").status_code == 403
    client.post("/staff/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    s.create("boss", "admin")
    s.login("boss")
    assert client.get("/reports/secret").get_data(as_text=True) == "secret report"


def test_the_decorator_guards_a_view_in_any_blueprint(db, db_path):
    extra = Blueprint("analysis_pages", __name__)

    @extra.route("/reports/index")
    @auth.login_required("analyst")
    def index():
        return "reports"

    app = create_app({"TESTING": True, "DATABASE": str(db_path), "SECRET_KEY": "t"})
    app.register_blueprint(extra)
    client = app.test_client()
    from .conftest import Staff

    s = Staff(client, db)
    s.as_role("staff")
    assert client.get("/reports/index").status_code == 403
    with app.test_request_context():
        assert auth.required_role("analysis_pages.index") == "analyst"


def test_session_cookie_is_httponly_and_samesite(staff):
    staff.create("lan", "staff")
    response = staff.login("lan")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(staff):
    staff.create("lan", "staff")
    wrong_password = staff.login("lan", "not the password")
    unknown_user = staff.login("nobody", PASSWORD)
    for response in (wrong_password, unknown_user):
        assert response.status_code == 401
        assert "Wrong user name or password." in response.get_data(as_text=True)


def test_user_names_are_case_insensitive(staff):
    staff.create("Lan", "staff")
    assert staff.login("lan").status_code == 302


def test_logout_needs_post_with_csrf_and_ends_the_session(client, staff):
    staff.as_role("staff")
    assert client.get("/staff/logout").status_code == 405
    assert client.post("/staff/logout").status_code == 400
    assert client.get("/staff/").status_code == 200
    response = client.post("/staff/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    assert response.headers["Location"] == "/staff/login"
    assert client.get("/staff/").headers["Location"].startswith("/staff/login")


def test_post_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing(client, db, staff):
    from .conftest import NOW, make_response, unit_id
    from survey import responses

    responses.save(db, make_response(unit_id(db, "quan-1"), NOW))
    staff.as_role("staff")
    for data in ({"action": "exclude", "reason": "test"},
                 {"action": "exclude", "reason": "test", "csrf_token": "forged"}):
        response = client.post("/staff/responses/1/exclusion", data=data)
        assert response.status_code == 400
        assert "security token" in response.get_data(as_text=True)
    assert db.execute("SELECT excluded_at FROM responses WHERE id = 1").fetchone()[0] is None
    ok = client.post("/staff/responses/1/exclusion",
                     data={"action": "exclude", "reason": "test", "csrf_token": csrf_token(client, "/staff/")})
    assert ok.status_code == 302
    assert db.execute("SELECT excluded_by FROM responses WHERE id = 1").fetchone()[0] == "staff-user"


def test_login_form_needs_its_csrf_token(client, staff):
    staff.create("lan", "staff")
    response = client.post("/staff/login", data={"username": "lan", "password": PASSWORD})
    assert response.status_code == 400
    assert "staff_uid" not in (client.get_cookie("session").value if client.get_cookie("session") else "")
    assert client.get("/staff/").status_code == 302


def test_csrf_token_from_another_session_is_refused(app, db, staff):
    other = app.test_client()
    token = csrf_token(other)
    staff.as_role("staff")
    response = staff.client.post("/staff/comments/1/handled", data={"handled": "1", "csrf_token": token})
    assert response.status_code == 400


def test_repeated_failures_lock_the_user_name_even_for_the_right_password(staff, clock):
    staff.create("lan", "staff")
    for attempt in range(4):
        assert staff.login("lan", "wrong password!").status_code == 401, attempt
    fifth = staff.login("lan", "wrong password!")
    assert fifth.status_code == 429
    assert "Too many failed sign-ins for this user name. Try again in 1 minute" in fifth.get_data(as_text=True)
    assert staff.login("lan").status_code == 429          # right password, still locked
    clock.set(clock.now + timedelta(seconds=61))
    assert staff.login("lan").status_code == 302          # lock over: signs in, counter reset
    assert users.lock_remaining(staff.db, "lan") == 0
    assert staff.db.execute("SELECT count(*) FROM login_locks WHERE username = 'lan'").fetchone()[0] == 0


def test_each_failure_after_the_lock_doubles_it(staff, clock):
    staff.create("lan", "staff")
    for _ in range(5):
        staff.login("lan", "wrong password!")
    assert users.lock_remaining(staff.db, "lan") == 60
    clock.set(clock.now + timedelta(seconds=61))
    assert staff.login("lan", "wrong password!").status_code == 429
    assert users.lock_remaining(staff.db, "lan") == 120
    clock.set(clock.now + timedelta(seconds=121))
    staff.login("lan", "wrong password!")
    assert users.lock_remaining(staff.db, "lan") == 240


def test_unknown_user_names_are_throttled_like_real_ones(staff):
    for _ in range(5):
        last = staff.login("ghost", "whatever password")
    assert last.status_code == 429


def test_one_address_trying_many_user_names_is_slowed_down(app, staff):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 6
    staff.create("lan", "staff")
    for i in range(6):
        assert staff.login(f"name{i}", "whatever password").status_code == 401
    blocked = staff.login("lan")
    assert blocked.status_code == 429
    assert "from this device" in blocked.get_data(as_text=True)
    # Nothing about the address was written to the database.
    dump = "\n".join(staff.db.conn.iterdump())
    assert "127.0.0.1" not in dump


def test_an_admin_can_unlock_a_locked_user(client, staff):
    staff.create("lan", "staff")
    for _ in range(5):
        staff.login("lan", "wrong password!")
    staff.create("boss", "admin")
    staff.login("boss")  # the lock is on lan only: boss signs in from the same device
    user = users.by_name(staff.db, "lan")
    page = client.get("/staff/admin/users").get_data(as_text=True)
    assert "locked" in page
    staff.post(f"/staff/admin/users/{user.id}", {"action": "unlock"})
    assert users.lock_remaining(staff.db, "lan") == 0


def test_disabled_user_cannot_sign_in_and_is_signed_out(app, client, staff):
    lan = staff.create("lan", "staff")
    assert staff.login("lan").status_code == 302
    other = app.test_client()
    from .conftest import Staff

    admin = Staff(other, staff.db)
    admin.create("boss", "admin")
    admin.login("boss")
    admin.post(f"/staff/admin/users/{lan.id}", {"action": "disable"})
    assert client.get("/staff/").headers["Location"].startswith("/staff/login")
    assert staff.login("lan").status_code == 401


def test_changing_the_password_signs_out_other_sessions(app, client, staff):
    staff.create("lan", "staff")
    staff.login("lan")
    second = app.test_client()
    from .conftest import Staff

    Staff(second, staff.db).login("lan")
    response = staff.post("/staff/account/password", {"current_password": PASSWORD,
                                                      "new_password": "a brand new secret",
                                                      "confirm_password": "a brand new secret"})
    assert response.status_code == 302
    assert client.get("/staff/").status_code == 200          # this session carries on
    assert second.get("/staff/").status_code == 302          # the other one is signed out
    assert staff.login("lan", "a brand new secret").status_code == 302


def test_password_change_explains_what_is_wrong(staff):
    staff.as_role("staff")
    cases = [({"current_password": "nope", "new_password": "long enough pw", "confirm_password": "long enough pw"},
              "The current password is wrong."),
             ({"current_password": PASSWORD, "new_password": "short", "confirm_password": "short"},
              "at least 10 characters"),
             ({"current_password": PASSWORD, "new_password": "long enough pw", "confirm_password": "other one!!"},
              "differ")]
    for data, message in cases:
        response = staff.post("/staff/account/password", data)
        assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_passwords_are_stored_hashed(staff):
    staff.create("lan", "staff")
    stored = staff.db.execute("SELECT password_hash FROM users WHERE username = 'lan'").fetchone()[0]
    assert PASSWORD not in stored and stored.startswith("scrypt:")


def test_the_last_admin_cannot_demote_or_disable_themself(client, staff):
    boss = staff.as_role("admin")
    for data in ({"action": "role", "role": "staff"}, {"action": "disable"}):
        response = staff.post(f"/staff/admin/users/{boss.id}", data)
        assert response.status_code == 400
        assert "your own admin role" in response.get_data(as_text=True)
    assert users.get(staff.db, boss.id).role == "admin"


def test_admin_creates_a_user_who_can_then_sign_in(app, staff):
    staff.as_role("admin")
    page = staff.post("/staff/admin/users", {"username": "minh", "role": "analyst",
                                             "password": "minh's long password",
                                             "confirm_password": "minh's long password"})
    assert page.status_code == 302
    bad = staff.post("/staff/admin/users", {"username": "bad name", "role": "analyst",
                                            "password": "minh's long password",
                                            "confirm_password": "minh's long password"})
    assert bad.status_code == 400 and "must be 1–64 letters" in bad.get_data(as_text=True)
    from .conftest import Staff

    other = Staff(app.test_client(), staff.db)
    assert other.login("minh", "minh's long password").status_code == 302
    assert other.client.get("/staff/exports").status_code == 200


# --- CLI -------------------------------------------------------------------------------------

def test_create_user_reads_the_password_from_stdin(app, staff):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "lan", "--role", "analyst"], input="a long password\n")
    assert result.exit_code == 0, result.output
    assert "Created user lan with the role analyst." in result.output
    assert staff.login("lan", "a long password").status_code == 302


def test_create_user_refuses_bad_input_clearly(app):
    runner = app.test_cli_runner()
    short = runner.invoke(args=["create-user", "lan", "--role", "staff"], input="short\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    role = runner.invoke(args=["create-user", "lan", "--role", "boss"], input="a long password\n")
    assert role.exit_code == 2 and "boss" in role.output
    runner.invoke(args=["create-user", "lan", "--role", "staff"], input="a long password\n")
    again = runner.invoke(args=["create-user", "LAN", "--role", "staff"], input="a long password\n")
    assert again.exit_code == 1 and "already exists" in again.output


def test_set_password_cli_also_lifts_a_lock(app, staff):
    staff.create("lan", "staff")
    for _ in range(5):
        staff.login("lan", "wrong password!")
    result = app.test_cli_runner().invoke(args=["set-password", "lan"], input="the new password\n")
    assert result.exit_code == 0, result.output
    assert staff.login("lan", "the new password").status_code == 302
    missing = app.test_cli_runner().invoke(args=["set-password", "nobody"], input="the new password\n")
    assert missing.exit_code == 1 and "no user “nobody”" in missing.output


@pytest.mark.parametrize("command", ["create-user", "set-password", "refresh-summaries"])
def test_staff_commands_have_help_with_an_example(app, command):
    result = app.test_cli_runner().invoke(args=[command, "--help"])
    assert result.exit_code == 0 and "Example:" in result.output
