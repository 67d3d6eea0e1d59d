"""Every user-facing string of the citizen pages, in one overridable table.

``MESSAGES`` maps a key to its Vietnamese and English text (ONS style: one
table, no strings in views or templates). A deployment rewords any of them
without touching code through the ``MESSAGES`` setting, e.g. in
``instance/config.py``::

    MESSAGES = {"thanks.heading": {"vi": "Cảm ơn bà con!", "en": "Thank you!"}}

``t(key, **kw)`` returns the text in the current language with ``{name}``
placeholders filled; ``tr(obj)`` picks the current language from a bilingual
value of a questionnaire (``{"vi": ..., "en": ...}``). Both are available in
templates. The language is chosen per request: ``?lang=`` (kept in the session
from then on), else the session, else the ``DEFAULT_LANGUAGE`` setting.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import urlencode

from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import Babel, format_datetime, format_decimal, gettext, ngettext

LANGUAGES = ("vi", "en")
# The gettext catalogs: survey/translations/<lang>/LC_MESSAGES/messages.po (and the compiled .mo).
TRANSLATIONS = os.path.join(os.path.dirname(__file__), "translations")

MESSAGES: dict[str, dict[str, str]] = {
    # Page frame
    "site.name": {"vi": "Khảo sát sự hài lòng của người dân",
                  "en": "Citizen satisfaction survey"},
    "site.agency": {"vi": "Đánh giá sự phục vụ hành chính",
                    "en": "Rate the public service"},
    "site.skip": {"vi": "Chuyển đến nội dung chính", "en": "Skip to main content"},
    "lang.switch": {"vi": "English", "en": "Tiếng Việt"},
    "footer.privacy": {"vi": "Phiếu khảo sát ẩn danh: không thu thập họ tên, số điện thoại hay địa chỉ IP.",
                       "en": "This survey is anonymous: no name, phone number or IP address is collected."},

    # Unit picker
    "index.title": {"vi": "Chọn cơ quan Ông/Bà vừa làm thủ tục",
                    "en": "Choose the office you have just dealt with"},
    "index.lead": {"vi": "Chọn cơ quan nơi Ông/Bà vừa nộp hồ sơ hoặc nhận kết quả để bắt đầu đánh giá. "
                         "Phiếu mất khoảng 5 phút.",
                   "en": "Choose the office where you filed your application or received its result "
                         "to start. It takes about 5 minutes."},
    "index.empty": {"vi": "Chưa có cơ quan nào được thiết lập. Vui lòng liên hệ quản trị viên.",
                    "en": "No office has been set up yet. Please contact the administrator."},

    # Questionnaire page
    "form.unit": {"vi": "Cơ quan được đánh giá", "en": "Office being rated"},
    "form.intro": {"vi": "Xin Ông/Bà cho biết mức độ hài lòng với từng nội dung dưới đây, "
                         "từ 1 (rất không hài lòng) đến 5 (rất hài lòng).",
                   "en": "Please tell us how satisfied you are with each point below, "
                         "from 1 (very dissatisfied) to 5 (very satisfied)."},
    "form.progress": {"vi": "Phiếu có {required} câu bắt buộc: {criteria} câu đánh giá ({parts} phần) và {about} câu "
                            "thông tin chung; mất khoảng 5 phút.",
                      "en": "{required} questions to answer: {criteria} ratings ({parts} parts) and {about} about you; "
                            "about 5 minutes."},
    "form.required_note": {"vi": "Mọi câu đều bắt buộc, trừ những câu ghi “không bắt buộc”.",
                           "en": "Every question must be answered unless it says “optional”."},
    "form.anonymous": {"vi": "Phiếu ẩn danh: không hỏi họ tên hay số điện thoại.",
                       "en": "Anonymous: we do not ask for your name or phone number."},
    "form.part": {"vi": "Phần {n}/{total}", "en": "Part {n} of {total}"},
    "form.question": {"vi": "Câu {n}", "en": "Question {n}"},
    "form.about_you": {"vi": "Thông tin người trả lời", "en": "About you"},
    "form.about_you_lead": {"vi": "Chỉ dùng để thống kê, không thể xác định Ông/Bà là ai.",
                            "en": "Used for statistics only; it cannot identify you."},
    "form.optional": {"vi": "không bắt buộc", "en": "optional"},
    "form.comment_hint": {"vi": "Tối đa {max} ký tự. Xin đừng ghi họ tên, số điện thoại.",
                          "en": "At most {max} characters. Please do not write your name or phone number."},
    "form.submit": {"vi": "Gửi đánh giá", "en": "Send answers"},
    "form.renewed": {"vi": "Trang vừa được làm mới. Câu trả lời của Ông/Bà vẫn được giữ nguyên: "
                           "vui lòng bấm “{button}” một lần nữa.",
                     "en": "The page has just been renewed. Your answers are kept: please press "
                           "“{button}” once more."},
    "form.not_stored": {"vi": "Hệ thống tạm thời chưa lưu được phiếu. Câu trả lời của Ông/Bà vẫn còn trên "
                              "màn hình và chưa có gì được lưu: vui lòng bấm gửi lại sau ít phút.",
                        "en": "We could not store your answers just now. They are still on the screen and "
                              "nothing has been saved: please press send again in a few minutes."},
    "form.answered": {"vi": "Đã trả lời {done}/{total}", "en": "{done} of {total} answered"},

    # Validation (shown next to the item, in the summary at the top)
    "error.summary_title": {"vi": "Phiếu chưa gửi được: cần sửa {count} chỗ",
                            "en": "Your answers were not sent: {count} thing(s) to fix"},
    "error.summary_lead": {"vi": "Các câu Ông/Bà đã trả lời vẫn được giữ nguyên.",
                           "en": "The answers you gave are kept."},
    "error.prefix": {"vi": "Lỗi:", "en": "Error:"},
    "error.title_prefix": {"vi": "Lỗi", "en": "Error"},
    "error.criterion_missing": {"vi": "Vui lòng chọn một mức đánh giá cho câu {n}.",
                                "en": "Please choose a rating for question {n}."},
    "error.criterion_invalid": {"vi": "Câu {n}: “{value}” không phải là một mức đánh giá hợp lệ. Vui lòng chọn lại.",
                                "en": "Question {n}: “{value}” is not one of the ratings. Please choose again."},
    "error.respondent_missing": {"vi": "Vui lòng chọn một ý cho mục “{question}”.",
                                 "en": "Please choose an answer for “{question}”."},
    "error.respondent_invalid": {"vi": "“{value}” không phải là một lựa chọn của mục “{question}”. Vui lòng chọn lại.",
                                 "en": "“{value}” is not one of the answers to “{question}”. Please choose again."},
    "error.comment_too_long": {"vi": "Góp ý dài {length} ký tự, vượt quá giới hạn {max} ký tự. Vui lòng rút gọn.",
                               "en": "Your comment has {length} characters, more than the limit of {max}. Please shorten it."},

    # Thank-you page
    "thanks.title": {"vi": "Cảm ơn Ông/Bà", "en": "Thank you"},
    "thanks.heading": {"vi": "Cảm ơn Ông/Bà đã đánh giá!", "en": "Thank you for your answers!"},
    "thanks.body": {"vi": "Phiếu đánh giá của Ông/Bà về {unit} đã được ghi nhận. "
                          "Ý kiến của Ông/Bà giúp cơ quan phục vụ người dân tốt hơn.",
                    "en": "Your answers about {unit} have been recorded. "
                          "They help the office serve people better."},
    "thanks.again": {"vi": "Bắt đầu phiếu mới", "en": "Start again"},

    # Error pages
    "page.nothing_saved": {"vi": "Chưa có câu trả lời nào được lưu.", "en": "Nothing has been saved."},
    "page.home": {"vi": "Về trang chọn cơ quan", "en": "Go to the list of offices"},
    "page.start_again": {"vi": "Mở lại phiếu khảo sát", "en": "Open the form again"},
    "page.400": {"vi": "Yêu cầu không hợp lệ", "en": "The request could not be understood"},
    "page.400_body": {"vi": "Trình duyệt đã gửi một yêu cầu mà chúng tôi không đọc được.",
                      "en": "Your browser sent a request we could not read."},
    "page.404": {"vi": "Không tìm thấy trang", "en": "Page not found"},
    "page.404_body": {"vi": "Địa chỉ này không có trên hệ thống. Vui lòng kiểm tra lại đường dẫn.",
                      "en": "There is no page at this address. Please check the link."},
    "page.404_unit": {"vi": "Không tìm thấy cơ quan “{slug}”",
                      "en": "We could not find the office “{slug}”"},
    "page.404_unit_body": {"vi": "Mã QR hoặc đường dẫn có thể đã cũ. Xin chọn cơ quan Ông/Bà vừa làm thủ tục:",
                           "en": "The QR code or link may be out of date. Please choose the office you have just dealt with:"},
    "page.405": {"vi": "Không thực hiện được thao tác này", "en": "This action is not allowed here"},
    "page.405_body": {"vi": "Địa chỉ này không nhận loại yêu cầu vừa gửi.",
                      "en": "This address does not accept that kind of request."},
    "page.409": {"vi": "Phiếu khảo sát vừa được cập nhật", "en": "The questionnaire has just been updated"},
    "page.409_body": {"vi": "Phiếu Ông/Bà đang điền là phiên bản cũ nên chưa được lưu. "
                            "Xin mở phiếu mới và trả lời lại. Rất mong Ông/Bà thông cảm.",
                      "en": "The form you filled in is an older version, so it was not saved. "
                            "Please open the new form and answer again. We are sorry for the trouble."},
    "page.413": {"vi": "Nội dung gửi quá lớn", "en": "What was sent is too large"},
    "page.413_body": {"vi": "Phiếu gửi lên vượt quá dung lượng cho phép.",
                      "en": "The form sent is larger than we accept."},
    "page.422": {"vi": "Phiếu chưa hợp lệ", "en": "The answers could not be accepted"},
    "page.500": {"vi": "Hệ thống đang gặp sự cố", "en": "Something went wrong on our side"},
    "page.500_body": {"vi": "Xin lỗi, đã có lỗi phía máy chủ. Vui lòng thử lại sau ít phút.",
                      "en": "Sorry, the server had a problem. Please try again in a few minutes."},
    "page.503": {"vi": "Khảo sát chưa mở", "en": "The survey is not open yet"},
    "page.503_body": {"vi": "Hệ thống khảo sát chưa được thiết lập xong. Vui lòng quay lại sau.",
                      "en": "The survey has not been set up yet. Please come back later."},
    "page.csrf": {"vi": "Phiên làm việc đã hết hạn", "en": "This page has expired"},
    "page.csrf_body": {"vi": "Trang khảo sát đã hết hiệu lực (có thể do mở quá lâu hoặc trình duyệt chặn cookie) "
                             "nên phiếu chưa gửi được. Câu trả lời chưa được lưu. Xin mở lại phiếu và điền lại.",
                       "en": "The survey page is no longer valid (it may have been open too long, or the browser "
                             "blocks cookies), so the form was not sent. Your answers have not been saved. "
                             "Please open the form again and fill it in."},

    # Why a submission was refused (400), named for the respondent
    "bad.unknown_field": {"vi": "Phiếu gửi lên có mục lạ “{name}” không thuộc bảng hỏi.",
                          "en": "The form sent contains “{name}”, which is not part of the questionnaire."},
    "bad.repeated_field": {"vi": "Mục “{name}” được gửi nhiều lần; mỗi câu chỉ được có một câu trả lời.",
                           "en": "“{name}” was sent more than once; each question takes one answer."},
    "bad.damaged": {"vi": "Phiếu gửi lên bị thiếu hoặc sai thông tin nhận dạng (mục “{name}”).",
                    "en": "The form sent is missing or has a damaged identifier (“{name}”)."},
    "bad.unknown_questionnaire": {"vi": "Bảng hỏi “{name}” không có trên hệ thống.",
                                  "en": "There is no questionnaire “{name}”."},
    "bad.channel": {"vi": "Kênh khảo sát “{name}” không hợp lệ.",
                    "en": "“{name}” is not a survey channel."},
}


# The kiosk's texts (survey/kiosk/messages.py) belong to the same table.
from .kiosk.messages import KIOSK_MESSAGES  # noqa: E402

MESSAGES.update(KIOSK_MESSAGES)


# Blueprints whose pages staff see: their language is the staff member's own (see staff_language).
STAFF_BLUEPRINTS = frozenset({"staff", "posters"})


def language() -> str:
    """The language of the current request (``vi`` or ``en``)."""
    if not has_request_context():
        return current_app.config.get("DEFAULT_LANGUAGE", "vi")
    if "lang" not in g:
        g.lang = staff_language() if is_staff_page() else _choose_language()
    return g.lang


def _babel_locale() -> str:
    """The catalog's language: the page's; outside a request (CLI commands) English, the source."""
    return language() if has_request_context() else "en"


def is_staff_page() -> bool:
    return request.blueprint in STAFF_BLUEPRINTS


def staff_language() -> str:
    """A staff member's language: the one they chose (kept with their account), else the one chosen
    before signing in (kept in the session), else Vietnamese (STAFF_DEFAULT_LANGUAGE)."""
    from .staff.auth import current_user

    user = current_user()
    if user is not None and user.lang in LANGUAGES:
        return user.lang
    kept = session.get("staff_lang")
    if kept in LANGUAGES:
        return kept
    default = current_app.config.get("STAFF_DEFAULT_LANGUAGE", "vi")
    return default if default in LANGUAGES else "vi"


def _choose_language() -> str:
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session["lang"] = asked
        return asked
    kept = session.get("lang")
    if kept in LANGUAGES:
        return kept
    default = current_app.config.get("DEFAULT_LANGUAGE", "vi")
    return default if default in LANGUAGES else "vi"


def message(key: str, lang: str) -> str:
    overrides: Mapping[str, Mapping[str, str]] = current_app.config.get("MESSAGES") or {}
    entry = overrides.get(key, {}).get(lang) or MESSAGES[key][lang]
    return entry


def t(key: str, /, **kw: Any) -> str:
    """The message ``key`` in the current language, with ``{name}`` placeholders filled."""
    text = message(key, language())
    return text.format(**kw) if kw else text


def tr(value: Any, lang: str | None = None) -> str:
    """The current language's text of a bilingual questionnaire value (falls back to Vietnamese)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    lang = lang or language()
    return value.get(lang) or value.get("vi") or ""


def unit_name(unit: Mapping[str, Any]) -> str:
    return unit["name_en"] if language() == "en" else unit["name_vi"]


def row_unit(row: Mapping[str, Any]) -> str:
    """The unit name of a query row (unit_name_vi / unit_name_en) in the page's language."""
    if language() == "en" and row.get("unit_name_en"):
        return row["unit_name_en"]
    return row.get("unit_name_vi") or ""


def period_label(period: Any) -> str:
    """A period as 'dd/mm/yyyy – dd/mm/yyyy' in the page's language."""
    return f"{local_date(period.start)} – {local_date(period.end)}"


def _switch_links() -> dict[str, str]:
    """The other language and the current address asking for it (the visible switch)."""
    other = "en" if language() == "vi" else "vi"
    args = request.args.to_dict()
    args["lang"] = other
    return {"other_language": other, "switch_url": f"{request.path}?{urlencode(args)}"}


# --- Local dates, times and numbers (the city's time zone, the page's language) ----------------

DATETIME_PATTERNS = {"vi": "dd/MM/yyyy HH:mm", "en": "d MMM yyyy, HH:mm"}
DATE_PATTERNS = {"vi": "dd/MM/yyyy", "en": "d MMM yyyy"}
SHORT_DATE_PATTERNS = {"vi": "dd/MM", "en": "d MMM"}


def _moment(value: Any) -> datetime | None:
    """A stored UTC time ('2026-12-03T07:31:00Z', or a datetime; naive means UTC) as aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def local_datetime(value: Any, *, seconds: bool = False) -> str:
    """A stored UTC time as the city's local time in the page's language: vi '03/12/2026 14:31'."""
    moment = _moment(value)
    if moment is None:
        return ""
    pattern = DATETIME_PATTERNS[language()] + (":ss" if seconds else "")
    return format_datetime(moment, pattern)


def local_wallclock(value: datetime, *, seconds: bool = False) -> str:
    """An already-local (naive) wall-clock time in the page's language."""
    pattern = DATETIME_PATTERNS[language()] + (":ss" if seconds else "")
    from babel.dates import format_datetime as babel_format

    return babel_format(value, pattern, locale=language())


def local_date(value: Any, short: bool = False) -> str:
    """A calendar date (date, or 'YYYY-MM-DD') in the page's language: vi '03/12/2026'."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    from babel.dates import format_date

    return format_date(value, (SHORT_DATE_PATTERNS if short else DATE_PATTERNS)[language()], locale=language())


def number(value: Any, digits: int | None = None) -> str:
    """A number in the page's language: vi 20.006 and 52,2; en 20,006 and 52.2."""
    if value is None:
        return "—"
    if digits is None:
        return format_decimal(value)
    return format_decimal(value, format="#,##0" + ("." + "0" * digits if digits else ""))


def percent(value: Any, digits: int = 1) -> str:
    """A share already in percent, in the page's language: vi '52,2 %'."""
    if value is None:
        return "—"
    return number(value, digits) + "\u00a0%"


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "vi")
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config.get("TIMEZONE", "Asia/Ho_Chi_Minh")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", TRANSLATIONS)
    Babel(app, locale_selector=_babel_locale)
    from .labels import label

    app.jinja_env.globals.update(t=t, tr=tr, language=language, unit_name=unit_name, label=label,
                                 row_unit=row_unit, period_label=period_label,
                                 role_name=lambda code: label("role", code),
                                 channel_name=lambda code: label("channel", code),
                                 local_datetime=local_datetime, local_date=local_date,
                                 local_wallclock=local_wallclock, number=number, percent=percent)
    app.jinja_env.filters.update(local_datetime=local_datetime, local_date=local_date, number=number,
                                 percent=percent)
    app.context_processor(_switch_links)
