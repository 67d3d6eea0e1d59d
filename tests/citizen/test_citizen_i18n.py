"""One table of user-facing texts, complete in both languages; the language follows the respondent."""
from __future__ import annotations

import re
import string
from pathlib import Path

from survey import i18n

TEMPLATES = Path(__file__).resolve().parents[2] / "survey" / "templates"
SOURCES = Path(__file__).resolve().parents[2] / "survey"


def test_every_message_has_vietnamese_and_english_with_the_same_placeholders():
    for key, texts in i18n.MESSAGES.items():
        assert set(texts) == {"vi", "en"}, key
        assert texts["vi"].strip() and texts["en"].strip(), key
        fields = {lang: {f for _, f, _, _ in string.Formatter().parse(text) if f} for lang, text in texts.items()}
        assert fields["vi"] == fields["en"], key


def test_vietnamese_texts_are_written_with_diacritics():
    for key, texts in i18n.MESSAGES.items():
        if key.startswith("lang."):
            continue
        assert re.search(r"[àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ]",
                         texts["vi"], re.IGNORECASE), key


def test_every_message_key_used_in_templates_and_code_exists():
    used = set()
    for path in [*TEMPLATES.rglob("*.html"), *SOURCES.rglob("*.py")]:
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_.]+)["']""", path.read_text(encoding="utf-8")))
    assert used, "no message keys found: the pattern is wrong"
    assert used - set(i18n.MESSAGES) == set()


def test_messages_can_be_reworded_by_configuration(make_app):
    app = make_app(MESSAGES={"thanks.again": {"vi": "Đánh giá lượt khác"}})
    with app.test_request_context("/"):
        assert i18n.t("thanks.again") == "Đánh giá lượt khác"
    with app.test_request_context("/?lang=en"):
        assert i18n.t("thanks.again") == "Start again"


def test_vietnamese_is_the_default_and_english_is_one_tap_away(client):
    page = client.get("/u/quan-1").get_data(as_text=True)
    assert '<html lang="vi">' in page
    assert '<a class="lang" href="/u/quan-1?lang=en" lang="en" hreflang="en">English</a>' in page


def test_lang_parameter_switches_and_the_session_keeps_it(client):
    assert '<html lang="en">' in client.get("/?lang=en").get_data(as_text=True)
    page = client.get("/u/quan-1?ch=web").get_data(as_text=True)
    assert '<html lang="en">' in page and "District 1" in page and "Very dissatisfied" in page
    assert 'href="/u/quan-1?ch=web&amp;lang=vi"' in page
    assert '<html lang="vi">' in client.get("/?lang=vi").get_data(as_text=True)
    assert '<html lang="vi">' in client.get("/").get_data(as_text=True)


def test_unknown_language_falls_back_without_error(client):
    response = client.get("/?lang=fr")
    assert response.status_code == 200 and '<html lang="vi">' in response.get_data(as_text=True)


def test_default_language_setting(make_app):
    app = make_app(DEFAULT_LANGUAGE="en")
    assert '<html lang="en">' in app.test_client().get("/").get_data(as_text=True)
