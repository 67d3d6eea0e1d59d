"""Citizen texts of the invitation pages (/i), by key: their English sources (the Vietnamese is in the
gettext catalog, survey/translations/vi), joined into survey.i18n.SOURCES like the kiosk's."""

from .labels import N_

INVITE_MESSAGES: dict[str, str] = {
    "invite.enter_title": N_("Enter your invitation code"),
    "invite.enter_lead": N_("The code has 8 characters and is printed on your invitation slip or in the message you received."),
    "invite.code_label": N_("Invitation code"),
    "invite.code_hint": N_("For example K7QM-3XRT. Upper or lower case both work."),
    "invite.open": N_("Open the questionnaire"),
    "invite.enter_again": N_("Enter another code"),
    "invite.bad_format": N_("An invitation code has exactly 8 letters and digits (never O, I, L, 0 or 1). Please check your slip."),
    "invite.unknown_title": N_("Invitation code not found"),
    "invite.unknown": N_("We cannot find this invitation code. Please check each character on your slip or in your message."),
    "invite.used_title": N_("Thank you, this code has been used"),
    "invite.used": N_("This invitation has already been answered. Each invitation can be answered once; nothing more has been recorded."),
    "invite.expired_title": N_("This invitation has expired"),
    "invite.expired": N_("The time to answer this invitation has ended. Thank you for your interest."),
    "invite.closed_title": N_("This invitation is closed"),
    "invite.closed": N_("The survey this invitation belongs to has ended. Thank you for your interest."),
    "invite.too_many_title": N_("Please try again later"),
    "invite.too_many": N_("Too many wrong invitation codes have been entered from this device. Please try again in about {minutes} minutes, or ask the staff at the counter."),
    "invite.thanks": N_("Your answers have been recorded anonymously. The invitation code cannot be used again."),
}
