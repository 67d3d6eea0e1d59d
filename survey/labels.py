"""The one table of names staff and readers see for stored codes: channels, roles, statuses.

The dashboard, the exports, the staff pages and the index reports all name a
stored code through this module, so they can never disagree (a city report once
called QR scans "phone interviews"). Texts are gettext messages (English
source, Vietnamese in survey/translations/vi), marked here with ``N_`` and
translated when shown; ``label(kind, code, lang)`` works with or without a
request (the report engine runs outside Flask).
"""
from __future__ import annotations

import functools

from babel.support import Translations


def N_(text: str) -> str:
    """Mark a text for the catalog (pybabel extract -k N_); it is translated when shown."""
    return text


# How the citizen reached the form. Stored in responses.channel.
CHANNELS = ("qr", "web", "kiosk", "paper", "phone", "invitation")
CHANNEL_LABELS = {
    "qr": N_("QR code at the office"),
    "web": N_("Website (list of offices)"),
    "kiosk": N_("Kiosk at the counter"),
    "paper": N_("Paper form"),
    "phone": N_("Phone interview"),
    "invitation": N_("Personal invitation (probability sample)"),   # /i: a sampled dossier's link or code
}
ROLE_LABELS = {"staff": N_("staff"), "analyst": N_("analyst"), "admin": N_("admin")}
PACE_LABELS = {"behind": N_("behind"), "on track": N_("on track"), "done": N_("done"),
               "no target": N_("no target")}
KIOSK_STATUS_LABELS = {"revoked": N_("revoked"), "silent": N_("silent"), "active": N_("active"),
                       "closed": N_("closed")}
EXCLUSION_ACTIONS = {"excluded": N_("excluded"), "restored": N_("restored")}
# A held response's review state (survey/integrity.py STATES).
HOLD_STATE_LABELS = {"held": N_("held, waiting for review"), "accepted": N_("accepted"), "excluded": N_("excluded")}

TABLES = {"channel": CHANNEL_LABELS, "role": ROLE_LABELS, "pace": PACE_LABELS,
          "kiosk_status": KIOSK_STATUS_LABELS, "exclusion": EXCLUSION_ACTIONS, "hold_state": HOLD_STATE_LABELS}


@functools.lru_cache(maxsize=4)
def translations(lang: str) -> Translations:
    from .i18n import TRANSLATIONS

    return Translations.load(TRANSLATIONS, [lang], domain="messages")


def label(kind: str, code: str | None, lang: str | None = None) -> str:
    """The name of stored ``code`` of ``kind`` ('channel', 'role', ...) in ``lang`` (default: the page's)."""
    text = TABLES[kind].get(code or "")
    if text is None:
        return code or ""
    if lang is None:
        from flask_babel import gettext

        return gettext(text)
    return translations(lang).gettext(text)


def channel_label(code: str | None, lang: str | None = None) -> str:
    return label("channel", code, lang)
