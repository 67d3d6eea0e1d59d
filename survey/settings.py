"""Every setting the application reads: one table of (name, default, help).

The table feeds ``create_app`` (defaults) and the README's settings section; a
test fails when a setting has no help text. Any setting can be given in
``instance/config.py`` or in the environment as ``SURVEY_<NAME>`` (values in
the environment are parsed as JSON where possible: ``SURVEY_KIOSK_IDLE_SECONDS=90``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS: list[Setting] = [
    Setting("SECRET_KEY", "dev-only-change-me",
            "Signs sessions and CSRF tokens. Must be a long random value outside debug mode."),
    Setting("DATABASE", None,
            "Path of the SQLite database. Default: survey.sqlite3 in the instance folder."),
    Setting("DEFAULT_QUESTIONNAIRE", "sipas-hcm-26",
            "Id of the questionnaire the citizen pages serve."),
    Setting("DEFAULT_LANGUAGE", "vi", "Language of citizen pages until the respondent switches (vi or en)."),
    Setting("STAFF_DEFAULT_LANGUAGE", "vi",
            "Language of the staff pages until a staff member switches (vi or en); the choice is kept per user."),
    Setting("MESSAGES", {},
            "Rewordings of citizen and kiosk texts: {key: {'vi': ..., 'en': ...}} over the gettext catalog "
            "(keys: survey/i18n.py SOURCES and survey/kiosk/messages.py)."),
    Setting("TIMEZONE", "Asia/Ho_Chi_Minh", "Time zone in which days and periods are counted."),
    Setting("SQLITE_BUSY_TIMEOUT_MS", 5000, "How long a writer waits for the database lock before failing."),
    Setting("SQLITE_REUSE_CONNECTIONS", True,
            "Each server thread keeps its database connection from one request to the next (opening one "
            "re-reads the whole schema); False opens and closes one per request."),
    Setting("MAX_CONTENT_LENGTH", 64 * 1024, "Largest request body accepted, in bytes."),
    Setting("WTF_CSRF_TIME_LIMIT", None,
            "CSRF token lifetime in seconds; None ties it to the session so an open form never expires."),
    Setting("SESSION_COOKIE_SAMESITE", "Lax", "SameSite attribute of the session cookie."),
    Setting("SESSION_COOKIE_HTTPONLY", True, "The session cookie is not readable by scripts."),
    Setting("SESSION_COOKIE_SECURE", False,
            "Always mark the session cookie Secure. It is Secure anyway on requests that came over HTTPS."),
    Setting("TRUSTED_PROXIES", 0,
            "How many reverse proxies (e.g. nginx terminating HTTPS) sit in front of the app; their "
            "X-Forwarded-For/-Proto/-Host headers are trusted."),
    Setting("KIOSK_IDLE_SECONDS", 60, "A kiosk mid-form with no touch for this long asks 'Are you still there?' and resets."),
    Setting("KIOSK_THANKS_SECONDS", 5, "How long a kiosk shows the thank-you screen before a fresh form."),
    Setting("KIOSK_STILL_THERE_SECONDS", 15,
            "How long the kiosk's 'Are you still there?' question waits for a touch before it resets the form."),
    Setting("PUBLIC_BASE_URL", "",
            "Address citizens and kiosks reach the server at (e.g. https://khaosat.example.gov.vn), used in "
            "kiosk device URLs and QR posters. Empty: the address of the current request only when that is this "
            "machine (localhost, 127.x, ::1; a poster asked for under any other Host is refused, since a client "
            "chooses its Host header), or http://127.0.0.1:5000 on the command line."),
    # Staff monitoring (survey/staff/)
    Setting("PERMANENT_SESSION_LIFETIME", 12 * 3600,
            "A staff member is signed out this many seconds after signing in, however much the session is "
            "used (an absolute limit, checked on the server for every copy of the cookie)."),
    Setting("STAFF_IDLE_SECONDS", 30 * 60,
            "A staff member is signed out after this many seconds without a request they made (the "
            "dashboard's automatic refresh does not count); 0: no idle limit."),
    Setting("LOGIN_MAX_FAILURES", 5,
            "Failed sign-ins in a row for one user name from one client address before that name is "
            "locked on that address for a while (other addresses can still sign in with it)."),
    Setting("LOGIN_LOCKOUT_SECONDS", 60,
            "First lock after too many failed sign-ins; each further failure doubles it, up to an hour."),
    Setting("LOGIN_MAX_FAILURES_PER_ADDRESS", 30,
            "Failed sign-ins from one client address (any user names) within 15 minutes before that "
            "address must wait. Counted in the database (shared by every server process) under a keyed "
            "digest of the address, never the address itself."),
    Setting("LOGIN_MAX_FAILURES_PER_USER", 50,
            "Failed sign-ins for one user name from all addresses together within an hour before the "
            "name is locked everywhere (until the hour is over or an admin unlocks it)."),
    Setting("STAFF_REFRESH_SECONDS", 30, "How often the open dashboard refreshes its figures (0: never)."),
    Setting("OPENING_DAYS", "mon,tue,wed,thu,fri",
            "Days the one-stop desks are open (mon..sun, comma-separated): kiosks are only 'silent' then."),
    Setting("OPENING_HOURS", "07:30-11:30,13:00-17:00",
            "Opening hours (local time, comma-separated ranges) during which a kiosk can be 'silent'."),
    Setting("KIOSK_SILENT_MINUTES", 60,
            "A kiosk is 'silent' after this many minutes of opening hours without a submission."),
    Setting("QUALITY_STRAIGHTLINE_MIN_ANSWERS", 10,
            "A response is 'straight-lining' when it scores at least this many criteria and all alike."),
    Setting("QUALITY_SPEEDER_RATIO", 0.33,
            "A response is a 'speeder' when it took less than this share of the median duration "
            "(of its questionnaire version and channel)."),
    Setting("QUALITY_BURST_COUNT", 5,
            "A 'burst' is more than this many submissions from one kiosk within QUALITY_BURST_MINUTES."),
    Setting("QUALITY_BURST_MINUTES", 10, "Window of the burst check, in minutes."),
    # Integrity: responses that look stuffed are held for review (survey/integrity.py, docs/integrity.md)
    Setting("INTEGRITY_CLIENT_LIMIT", 3,
            "Responses for one unit from one client (address + browser cookie) within INTEGRITY_CLIENT_MINUTES "
            "beyond which all of them are held for review."),
    Setting("INTEGRITY_CLIENT_MINUTES", 60, "Window of the per-client check, in minutes of server time."),
    Setting("INTEGRITY_ADDRESS_LIMIT", 30,
            "Responses for one unit from one address (IPv6: one /64) within INTEGRITY_ADDRESS_MINUTES beyond "
            "which all of them are held (generous: many citizens share an address behind carrier NAT or an office router)."),
    Setting("INTEGRITY_ADDRESS_MINUTES", 10, "Window of the per-address check, in minutes of server time."),
    Setting("INTEGRITY_BULK_COUNT", 5,
            "Responses for one unit whose forms were served within INTEGRITY_BULK_SERVED_SECONDS of each other "
            "and that arrived within INTEGRITY_BULK_RECEIVED_SECONDS beyond which all of them are held "
            "(forms fetched in bulk and posted together)."),
    Setting("INTEGRITY_BULK_SERVED_SECONDS", 20, "How close the forms' serving times must be for the bulk check."),
    Setting("INTEGRITY_BULK_RECEIVED_SECONDS", 120, "How close the arrival times must be for the bulk check."),
    Setting("INTEGRITY_PATTERN_COUNT", 8,
            "Identical sets of answers for one unit within INTEGRITY_PATTERN_MINUTES beyond which all of them are held."),
    Setting("INTEGRITY_PATTERN_MINUTES", 30, "Window of the repeated-answers check, in minutes of server time."),
    Setting("LIMIT_CLIENT_PER_HOUR", 6,
            "Submissions for one unit from one client (address + browser cookie) per hour; more are refused "
            "with a polite page asking to come back later."),
    Setting("LIMIT_ADDRESS_PER_10_MINUTES", 120,
            "Submissions from one address (IPv6: one /64), all units, per 10 minutes; more are refused "
            "(generous: carrier NAT and office routers put many citizens behind one address)."),
    Setting("LIMIT_KIOSK_PER_10_MINUTES", 600,
            "Submissions from one kiosk per 10 minutes; more are refused with 429 and the kiosk's queue sends "
            "them again later (nothing is lost). Generous: a kiosk back online sends its whole queue at once."),
    Setting("TEST_CLOCK", False,
            "Tests only (ignored unless TESTING is on): take the server's time from an X-Test-Clock request header."),
    # Probability samples from the dossier register (survey/frames.py, survey/invitations.py)
    Setting("INVITATION_VALID_DAYS", 30, "A one-time invitation code can be answered for this many days after "
            "export-invitations made it."),
    Setting("INVITE_MAX_UNKNOWN_CODES", 20, "Unknown invitation codes one client address may try within 15 minutes "
            "before /i refuses for the rest of that time (the address is kept only as a keyed digest)."),
    Setting("CONTACT_RETENTION_DAYS", 90, "Contacts and dossier codes of a frame are deleted by purge-contacts "
            "this many days after the end of its period."),
    Setting("REPORTS_FOLDER", None,
            "Where index reports made from the dashboard are kept. Default: reports/ in the instance folder."),
    Setting("REPORTS_KEEP_DAYS", 90,
            "Report folders older than this many days are deleted (checked when the reports page is opened "
            "or a report is asked for); the report's page then says so. 0: keep them for ever."),
]


def defaults() -> dict[str, Any]:
    return {s.name: s.default for s in SETTINGS if s.default is not None or s.name != "DATABASE"}
