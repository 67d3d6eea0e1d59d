"""The kiosk's texts, added to the one message table of :mod:`survey.i18n`.

They are overridable like every other text (the ``MESSAGES`` setting). The
kiosk also shows the citizen pages' own texts (``thanks.heading``, ...).
"""

from ..labels import N_

# English sources; the Vietnamese is in the gettext catalog (survey/translations/vi).
KIOSK_MESSAGES: dict[str, str] = {
    "kiosk.next": N_("A new form opens in {n} seconds."),
    "kiosk.again": N_("Start a new form now"),
    "kiosk.idle_title": N_("Are you still there?"),
    "kiosk.idle_body": N_("If not, the answers not yet sent will be cleared so that the next person cannot see them."),
    "kiosk.reset_in": N_("Clearing and starting over in {n} seconds."),
    "kiosk.stay": N_("I am still here"),
    "kiosk.restart": N_("Clear and start over"),
    "kiosk.waiting": N_("{n} response(s) waiting to be sent"),
    "kiosk.refused": N_("{n} response(s) could not be sent: {reason} Please tell a member of staff."),
    "kiosk.download": N_("Download the responses not sent"),
    "kiosk.unanswered": N_("{n} question(s) not answered yet. Please answer the one marked."),
    "kiosk.not_saved": N_("The response could not be stored on this device and the server cannot be reached. Your answers are still on the screen. Please tell a member of staff."),
    "kiosk.refreshed": N_("The page has just been renewed. Your answers are kept: please press “{button}” once more."),
    "kiosk.boot_title": N_("Counter survey tablet"),
    "kiosk.boot_body": N_("This device is not set up as a survey kiosk yet. Staff: open the device address the administrator gave you."),
    "kiosk.refused_title": N_("This survey kiosk cannot take responses"),
    "kiosk.refused_body": N_("Please tell a member of staff. Responses stored on this device are not deleted."),
    "kiosk.reason.missing_token": N_("this device is not set up as a kiosk."),
    'kiosk.reason.unknown_token': N_("the device's token is wrong or belongs to another system."),
    "kiosk.reason.revoked": N_("this kiosk has been revoked."),
    "kiosk.reason.foreign_unit": N_("this kiosk does not belong to the office “{unit}”."),
    "kiosk.reason.bad_request": N_("what was sent is not a valid response ({detail})."),
    "kiosk.reason.unknown_questionnaire": N_("there is no questionnaire “{name}”."),
    "kiosk.reason.invalid": N_("the response has answers that do not fit the questionnaire ({detail})."),
    "kiosk.reason.unit_gone": N_("this kiosk's office “{unit}” no longer exists since {date}; the kiosk must "
                                 "be moved to its new unit."),
    "kiosk.reason.too_many": N_("this kiosk sent too many responses within a minute; it will send them again shortly."),
    "kiosk.reason.unavailable": N_("the server cannot store responses just now; the device will send them again."),
    "kiosk.reason.too_large": N_("what was sent is too large."),
}
