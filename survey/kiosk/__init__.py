"""Kiosk mode: counter tablets bound to a unit, with an offline queue; QR posters.

``kiosks`` (tokens, registration, storing a kiosk's responses), ``views``
(the ``kiosk`` blueprint under ``/k/``), ``posters`` (printable QR posters,
blueprint ``posters``), ``cli`` (add-kiosk, list-kiosks, revoke-kiosk).
See docs/kiosk.md.
"""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from ..web import csrf
    from . import posters, views

    # The API authenticates by a header only its own script sets (no ambient
    # credential to forge); the plain form checks its CSRF token itself so that
    # a stale token gives the form back with its answers (views.submit).
    csrf.exempt(views.api_responses)
    csrf.exempt(views.submit)
    app.register_blueprint(views.bp)
    app.register_blueprint(posters.bp)
