"""Kiosk mode: counter tablets bound to a unit, with an offline queue; QR posters.

``kiosks`` (tokens, registration, storing a kiosk's responses), ``views``
(the ``kiosk`` blueprint under ``/k/``), ``posters`` (printable QR posters),
``cli`` (add-kiosk, list-kiosks, revoke-kiosk). See docs/kiosk.md.
"""
