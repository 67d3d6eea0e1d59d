"""The kiosk's texts, added to the one message table of :mod:`survey.i18n`.

They are overridable like every other text (the ``MESSAGES`` setting). The
kiosk also shows the citizen pages' own texts (``thanks.heading``, ...).
"""

KIOSK_MESSAGES: dict[str, dict[str, str]] = {
    "kiosk.next": {"vi": "Phiếu mới sẽ mở sau {n} giây.", "en": "A new form opens in {n} seconds."},
    "kiosk.again": {"vi": "Bắt đầu phiếu mới ngay", "en": "Start a new form now"},
    "kiosk.idle_title": {"vi": "Ông/Bà vẫn đang ở đây chứ?", "en": "Are you still there?"},
    "kiosk.idle_body": {"vi": "Nếu không, các câu trả lời chưa gửi sẽ được xóa để người tiếp theo không nhìn thấy.",
                        "en": "If not, the answers not yet sent will be cleared so that the next person "
                              "cannot see them."},
    "kiosk.reset_in": {"vi": "Xóa và bắt đầu lại sau {n} giây.", "en": "Clearing and starting over in {n} seconds."},
    "kiosk.stay": {"vi": "Tôi vẫn đang ở đây", "en": "I am still here"},
    "kiosk.restart": {"vi": "Xóa và bắt đầu lại", "en": "Clear and start over"},
    "kiosk.waiting": {"vi": "{n} phiếu đang chờ gửi", "en": "{n} response(s) waiting to be sent"},
    "kiosk.refused": {"vi": "{n} phiếu không gửi được: {reason} Vui lòng báo cán bộ.",
                      "en": "{n} response(s) could not be sent: {reason} Please tell a member of staff."},
    "kiosk.download": {"vi": "Tải về các phiếu chưa gửi được", "en": "Download the responses not sent"},
    "kiosk.unanswered": {"vi": "Còn {n} câu chưa trả lời. Vui lòng trả lời câu được đánh dấu.",
                         "en": "{n} question(s) not answered yet. Please answer the one marked."},
    "kiosk.not_saved": {"vi": "Không lưu được phiếu trên máy này và không kết nối được máy chủ. "
                              "Câu trả lời vẫn còn trên màn hình. Vui lòng báo cán bộ.",
                        "en": "The response could not be stored on this device and the server cannot be "
                              "reached. Your answers are still on the screen. Please tell a member of staff."},
    "kiosk.refreshed": {"vi": "Trang vừa được làm mới. Câu trả lời của Ông/Bà vẫn được giữ nguyên: "
                              "vui lòng bấm “{button}” một lần nữa.",
                        "en": "The page has just been renewed. Your answers are kept: please press "
                              "“{button}” once more."},
    "kiosk.boot_title": {"vi": "Máy khảo sát tại quầy", "en": "Counter survey tablet"},
    "kiosk.boot_body": {"vi": "Thiết bị này chưa được thiết lập làm máy khảo sát. Cán bộ: mở địa chỉ "
                              "thiết bị do quản trị viên cung cấp.",
                        "en": "This device is not set up as a survey kiosk yet. Staff: open the device "
                              "address the administrator gave you."},
    "kiosk.refused_title": {"vi": "Máy khảo sát này không nhận phiếu", "en": "This survey kiosk cannot take responses"},
    "kiosk.refused_body": {"vi": "Vui lòng báo cán bộ. Các phiếu đã lưu trên máy này không bị xóa.",
                           "en": "Please tell a member of staff. Responses stored on this device are not deleted."},
    # Why the server refused a request (the device shows this next to a refused response).
    "kiosk.reason.missing_token": {"vi": "thiết bị chưa được thiết lập làm máy khảo sát.",
                                   "en": "this device is not set up as a kiosk."},
    "kiosk.reason.unknown_token": {"vi": "mã thiết bị không đúng hoặc không thuộc hệ thống này.",
                                   "en": "the device's token is wrong or belongs to another system."},
    "kiosk.reason.revoked": {"vi": "máy khảo sát này đã bị thu hồi.", "en": "this kiosk has been revoked."},
    "kiosk.reason.foreign_unit": {"vi": "máy khảo sát này không thuộc cơ quan “{unit}”.",
                                  "en": "this kiosk does not belong to the office “{unit}”."},
    "kiosk.reason.bad_request": {"vi": "nội dung gửi lên không phải là một phiếu hợp lệ ({detail}).",
                                 "en": "what was sent is not a valid response ({detail})."},
    "kiosk.reason.unknown_questionnaire": {"vi": "bảng hỏi “{name}” không có trên hệ thống.",
                                           "en": "there is no questionnaire “{name}”."},
    "kiosk.reason.invalid": {"vi": "phiếu có câu trả lời không hợp lệ ({detail}).",
                             "en": "the response has answers that do not fit the questionnaire ({detail})."},
    "kiosk.reason.unavailable": {"vi": "máy chủ tạm thời chưa lưu được phiếu; máy sẽ tự gửi lại.",
                                 "en": "the server cannot store responses just now; the device will send them again."},
    "kiosk.reason.too_large": {"vi": "nội dung gửi lên quá lớn.", "en": "what was sent is too large."},
}
