"""No personal data in logs or in the stored row."""
import importlib.util
import logging
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_submission_writes_nothing_personal_to_the_logs(app, citizen, stored, caplog):
    caplog.set_level(logging.DEBUG)
    app.logger.setLevel(logging.DEBUG)
    form = citizen.open()
    secret = "Tôi tên Nguyễn Văn A, số điện thoại 0901234567"
    response = citizen.client.post(form.action, data={**form.hidden, **citizen.complete_answers(),
                                                              "comment": secret},
                                          environ_base={"REMOTE_ADDR": "203.0.113.77"})
    assert response.status_code == 303
    assert stored()[0]["comment"] == secret
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "0901234567" not in logged and "203.0.113.77" not in logged
    row = stored()[0]
    assert "203.0.113.77" not in " ".join(str(v) for v in row.values())


def test_gunicorn_access_log_format_has_no_client_address():
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    assert "%(h)s" not in conf.access_log_format and "{x-forwarded-for}" not in conf.access_log_format.lower()
    assert "%(q)s" not in conf.access_log_format and "%(r)s" not in conf.access_log_format  # no query strings
