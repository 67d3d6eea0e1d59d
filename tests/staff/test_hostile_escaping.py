"""Script payloads in comments, unit names and kiosk names are shown escaped on every page."""
import re

from survey import responses

from .conftest import add_kiosk, local, make_response, unit_id

PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def every_get_page(app):
    """Concrete URLs for every GET rule; ids and slugs point at the rows the test made."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or rule.endpoint == "staff.logout":
            continue
        url = re.sub(r"<slug>|<unit_slug>|<string:slug>", "quan-1", rule.rule)
        url = re.sub(r"<(?:int:)?[a-z_]+>", "1", url)
        urls.append(url)
    return urls


def test_payloads_are_escaped_on_every_page(app, client, db, staff, clock):
    db.execute("UPDATE units SET name_vi = ?, name_en = ? WHERE slug = 'quan-1'", [PAYLOAD, PAYLOAD])
    kiosk = add_kiosk(db, "quan-1", name=PAYLOAD)
    quan1 = unit_id(db, "quan-1")
    responses.save(db, make_response(quan1, local("2025-03-12 09:00"), comment=PAYLOAD))
    responses.save(db, make_response(quan1, local("2025-03-12 09:05"), channel="kiosk", kiosk_id=kiosk,
                                     comment=PAYLOAD))
    staff.as_role("admin")
    seen = 0
    for url in every_get_page(app) + ["/staff/comments?q=script", "/staff/?unit=quan-1", "/staff/quality"]:
        response = client.get(url)
        assert response.status_code < 500, url
        if response.mimetype != "text/html":
            continue  # CSV/XLSX exports and PDF posters carry the data as data (attachments, nosniff)
        body = response.get_data().decode("utf-8", "replace")
        assert "<script>alert" not in body and "<img src=x" not in body, url
        seen += "&lt;script&gt;alert" in body
    assert seen >= 3  # the payload did reach pages (dashboard, comments, kiosks ...), escaped
