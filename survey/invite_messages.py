"""Citizen texts of the invitation pages (/i), merged into survey.i18n.MESSAGES."""

INVITE_MESSAGES: dict[str, dict[str, str]] = {
    "invite.enter_title": {"vi": "Nhập mã mời khảo sát", "en": "Enter your invitation code"},
    "invite.enter_lead": {"vi": "Mã gồm 8 ký tự, in trên phiếu mời hoặc trong tin nhắn Ông/Bà nhận được.",
                          "en": "The code has 8 characters and is printed on your invitation slip or in the "
                                "message you received."},
    "invite.code_label": {"vi": "Mã mời", "en": "Invitation code"},
    "invite.code_hint": {"vi": "Ví dụ: K7QM-3XRT. Không phân biệt chữ hoa, chữ thường.",
                         "en": "For example K7QM-3XRT. Upper or lower case both work."},
    "invite.open": {"vi": "Mở phiếu khảo sát", "en": "Open the questionnaire"},
    "invite.enter_again": {"vi": "Nhập mã khác", "en": "Enter another code"},
    "invite.bad_format": {"vi": "Mã mời gồm đúng 8 chữ cái và chữ số (không có chữ O, I, L và số 0, 1). "
                                "Xin kiểm tra lại phiếu mời.",
                          "en": "An invitation code has exactly 8 letters and digits (never O, I, L, 0 or 1). "
                                "Please check your slip."},
    "invite.unknown_title": {"vi": "Không tìm thấy mã mời", "en": "Invitation code not found"},
    "invite.unknown": {"vi": "Chúng tôi không tìm thấy mã mời này. Xin kiểm tra lại từng ký tự trên phiếu mời "
                             "hoặc tin nhắn.",
                       "en": "We cannot find this invitation code. Please check each character on your slip or "
                             "in your message."},
    "invite.used_title": {"vi": "Cảm ơn Ông/Bà, mã này đã được dùng", "en": "Thank you, this code has been used"},
    "invite.used": {"vi": "Phiếu khảo sát của lời mời này đã được trả lời. Mỗi lời mời chỉ trả lời được một lần; "
                          "không có gì được ghi thêm.",
                    "en": "This invitation has already been answered. Each invitation can be answered once; "
                          "nothing more has been recorded."},
    "invite.expired_title": {"vi": "Mã mời đã hết hạn", "en": "This invitation has expired"},
    "invite.expired": {"vi": "Thời hạn trả lời của lời mời này đã kết thúc. Cảm ơn Ông/Bà đã quan tâm.",
                       "en": "The time to answer this invitation has ended. Thank you for your interest."},
    "invite.closed_title": {"vi": "Lời mời đã đóng", "en": "This invitation is closed"},
    "invite.closed": {"vi": "Đợt khảo sát của lời mời này đã kết thúc. Cảm ơn Ông/Bà đã quan tâm.",
                      "en": "The survey this invitation belongs to has ended. Thank you for your interest."},
    "invite.too_many_title": {"vi": "Xin thử lại sau", "en": "Please try again later"},
    "invite.too_many": {"vi": "Đã có quá nhiều mã mời không đúng được nhập từ thiết bị này. Xin thử lại sau khoảng "
                              "{minutes} phút, hoặc hỏi cán bộ tại quầy.",
                        "en": "Too many wrong invitation codes have been entered from this device. Please try again "
                              "in about {minutes} minutes, or ask the staff at the counter."},
    "invite.thanks": {"vi": "Câu trả lời của Ông/Bà đã được ghi nhận, ẩn danh. Mã mời không dùng lại được.",
                      "en": "Your answers have been recorded anonymously. The invitation code cannot be used again."},
}
