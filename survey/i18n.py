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

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from flask import Flask, current_app, g, has_request_context, request, session

LANGUAGES = ("vi", "en")

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
    "index.group_count": {"vi": "{count} đơn vị", "en": "{count} units"},
    "index.former_area": {"vi": "Khu vực {name} cũ", "en": "Area of the former {name}"},
    "index.other_units": {"vi": "Đơn vị khác", "en": "Other offices"},
    "index.groups_nav": {"vi": "Đi nhanh đến nhóm", "en": "Go to a group"},

    # An old link (QR poster) to a unit that no longer exists, e.g. a district after 1 July 2025
    "gone.title": {"vi": "{name} không còn tồn tại", "en": "{name} no longer exists"},
    "gone.body": {"vi": "Từ ngày {date}, {name} không còn là một đơn vị hành chính do sắp xếp lại đơn vị hành chính. "
                        "Khu vực này nay thuộc các phường, xã dưới đây. Xin chọn nơi Ông/Bà vừa làm thủ tục để đánh giá.",
                  "en": "Since {date}, {name} is no longer an administrative unit: the administrative units were "
                        "reorganised. Its area now belongs to the wards and communes below. Please choose the one "
                        "where you have just dealt with your application to give your rating."},
    "gone.successors": {"vi": "Các phường, xã đã tiếp nhận khu vực này", "en": "Wards and communes that took over its area"},
    "gone.partly": {"vi": "Một phần khu vực cũng thuộc", "en": "Part of its area also went to"},
    "gone.none": {"vi": "Xin chọn nơi Ông/Bà vừa làm thủ tục trong danh sách các cơ quan.",
                  "en": "Please choose the office you have just dealt with from the list of offices."},
    "gone.all_units": {"vi": "Xem tất cả cơ quan", "en": "See all offices"},
    "index.find_label": {"vi": "Tìm theo tên (gõ không dấu cũng được)", "en": "Search by name (accents optional)"},
    "index.find": {"vi": "Tìm", "en": "Search"},
    "index.count": {"vi": "{n} cơ quan", "en": "{n} offices"},
    "index.found": {"vi": "{n} cơ quan khớp với “{query}”.", "en": "{n} office(s) match “{query}”."},
    "index.none": {"vi": "Không tìm thấy cơ quan nào khớp với “{query}”. Hãy thử gõ ít chữ hơn, ví dụ chỉ tên phường.",
                   "en": "No office matches “{query}”. Try fewer words, for example only the ward's name."},
    "index.all": {"vi": "Xem tất cả cơ quan", "en": "Show every office"},
    "index.pages": {"vi": "Các trang của danh sách", "en": "Pages of the list"},
    "index.page": {"vi": "Trang {n} trên {total}", "en": "Page {n} of {total}"},
    "index.prev": {"vi": "Trang trước", "en": "Previous page"},
    "index.next": {"vi": "Trang kế tiếp", "en": "Next page"},
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
    "form.step": {"vi": "Phần {n}/{total}", "en": "Part {n} of {total}"},
    "form.next": {"vi": "Phần tiếp theo", "en": "Next part"},
    "form.previous": {"vi": "Quay lại", "en": "Back"},
    "form.comment_short": {"vi": "Góp ý", "en": "Comment"},
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
    "error.questions": {"vi": "Câu chưa trả lời:", "en": "Questions not answered:"},
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
    # Over a submission limit (survey/integrity.py): the form comes back with its answers.
    "limit.too_many": {"vi": "Xin lỗi, hệ thống vừa nhận rất nhiều phiếu từ thiết bị hoặc mạng này nên tạm thời "
                             "chưa nhận thêm. Phiếu của Ông/Bà chưa được lưu; các câu trả lời vẫn còn bên dưới. "
                             "Xin vui lòng bấm gửi lại sau khoảng {minutes} phút. Xin cảm ơn!",
                       "en": "Sorry, we have just received a lot of responses from this device or network, so we "
                             "cannot take another one right now. Your response has not been saved yet; your answers "
                             "are still below. Please press send again in about {minutes} minutes. Thank you!"},
}


# The kiosk's texts (survey/kiosk/messages.py) belong to the same table.
from .kiosk.messages import KIOSK_MESSAGES  # noqa: E402

MESSAGES.update(KIOSK_MESSAGES)
from .invite_messages import INVITE_MESSAGES  # noqa: E402

MESSAGES.update(INVITE_MESSAGES)


def language() -> str:
    """The language of the current request (``vi`` or ``en``)."""
    if not has_request_context():
        return current_app.config.get("DEFAULT_LANGUAGE", "vi")
    if "lang" not in g:
        g.lang = _choose_language()
    return g.lang


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


MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December")


def local_date(day) -> str:
    """A date as people write it: ``1/7/2025`` in Vietnamese, ``1 July 2025`` in English."""
    from datetime import date

    day = date.fromisoformat(day) if isinstance(day, str) else day
    if language() == "en":
        return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"
    return f"{day.day}/{day.month}/{day.year}"


def _switch_links() -> dict[str, str]:
    """The other language and the current address asking for it (the visible switch)."""
    other = "en" if language() == "vi" else "vi"
    args = request.args.to_dict()
    args["lang"] = other
    return {"other_language": other, "switch_url": f"{request.path}?{urlencode(args)}"}


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(t=t, tr=tr, language=language, unit_name=unit_name, local_date=local_date)
    app.context_processor(_switch_links)
