"""Printable QR posters for a unit (and a counter): HTML for the browser, PDF for the print shop.

The QR code holds the unit's stable citizen link ``<PUBLIC_BASE_URL>/u/<slug>``
(its own phone opens the unit's survey there). The HTML page draws the code as
inline SVG from segno; the PDF is drawn with a matplotlib ``Figure`` (never
pyplot: it keeps global state) with the QR modules as one vector path and the
texts in DejaVu Sans, which has every Vietnamese diacritic.
"""
from __future__ import annotations

import io
import textwrap
from functools import lru_cache

import segno
from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from ..db import get_db
from ..staff.auth import error_page, login_required
from ..web import no_public_address, public_base_url
from ..units import by_slug, leaf_units
from . import kiosks as kiosk_store

A4_INCHES = (210 / 25.4, 297 / 25.4)
COUNTER_MAX = 60

TEXT = {
    "heading": {"vi": "Khảo sát sự hài lòng của người dân", "en": "Citizen satisfaction survey"},
    "scan": {"vi": "Quét mã QR bằng điện thoại để đánh giá sự phục vụ của cơ quan",
             "en": "Scan the QR code with your phone to rate the service you received"},
    "counter": {"vi": "Quầy", "en": "Counter"},
    "footer": {"vi": "Phiếu ẩn danh, khoảng 5 phút. Không hỏi họ tên hay số điện thoại.",
               "en": "Anonymous, about 5 minutes. We never ask for your name or phone number."},
}


def unit_link(base_url: str, slug: str) -> str:
    return f"{base_url.rstrip('/')}/u/{slug}"


@lru_cache(maxsize=256)
def qr(link: str) -> segno.QRCode:
    # Level M or better (segno raises it for free when the version has room): a
    # poster gets scratched and photographed at an angle.
    return segno.make(link, error="m", micro=False, boost_error=True)


def qr_svg(link: str) -> str:
    """The QR code as an inline ``<svg>`` sized by CSS (viewBox, no width/height)."""
    return qr(link).svg_inline(scale=1, border=4, omitsize=True, dark="#000", light="#fff",
                               svgclass="qr", lineclass=None, title=link)


def clean_counter(value: str | None) -> str | None:
    """A counter name from the query string, one short line, or None."""
    if value is None:
        return None
    value = " ".join(value.split())
    if not value:
        return None
    if len(value) > COUNTER_MAX:
        raise ValueError(f"the counter name is {len(value)} characters long; at most {COUNTER_MAX}")
    return value


def _modules_path(code: segno.QRCode, border: int):
    """Every dark module as a unit square, in one compound path (y grows downwards)."""
    from matplotlib.path import Path

    vertices, codes = [], []
    for y, row in enumerate(code.matrix):
        for x, dark in enumerate(row):
            if dark:
                X, Y = x + border, y + border
                vertices += [(X, Y), (X + 1, Y), (X + 1, Y + 1), (X, Y + 1), (X, Y)]
                codes += [Path.MOVETO, Path.LINETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY]
    return Path(vertices, codes)


def poster_pdf(unit: dict, link: str, counter: str | None = None) -> bytes:
    """An A4 poster with the unit's names, the counter, the QR code of ``link`` and the link itself."""
    # matplotlib is imported here, not with the app: it would add half a second to every worker's start.
    from matplotlib.figure import Figure
    from matplotlib.patches import PathPatch

    fig = Figure(figsize=A4_INCHES)
    fig.patch.set_facecolor("white")
    put = fig.text

    def lines(text: str, width: int) -> str:
        return "\n".join(textwrap.wrap(text, width)) or text

    put(0.5, 0.945, TEXT["heading"]["vi"].upper(), ha="center", va="top", fontsize=20, weight="bold",
        color="#0b4f8a")
    put(0.5, 0.908, TEXT["heading"]["en"], ha="center", va="top", fontsize=14, color="#444")
    put(0.5, 0.875, lines(unit["name_vi"], 32), ha="center", va="top", fontsize=30, weight="bold",
        linespacing=1.15)
    name_lines = len(textwrap.wrap(unit["name_vi"], 32)) or 1
    y = 0.875 - 0.05 * name_lines - 0.008
    put(0.5, y, lines(unit["name_en"], 48), ha="center", va="top", fontsize=18, color="#333")
    if counter:
        put(0.5, y - 0.042, f"{TEXT['counter']['vi']} / {TEXT['counter']['en']}: {counter}", ha="center",
            va="top", fontsize=18, weight="bold", color="#0b4f8a")

    code = qr(link)
    border = 4
    size = code.symbol_size(border=0)[0] + 2 * border
    side = 0.62 * A4_INCHES[0]                           # the code's width on paper, in inches (~130 mm)
    width, height = side / A4_INCHES[0], side / A4_INCHES[1]
    ax = fig.add_axes((0.5 - width / 2, 0.215, width, height))
    ax.set_xlim(0, size)
    ax.set_ylim(size, 0)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.add_patch(PathPatch(_modules_path(code, border), facecolor="black", edgecolor="none", antialiased=False))

    put(0.5, 0.195, lines(TEXT["scan"]["vi"], 52), ha="center", va="top", fontsize=16, weight="bold")
    put(0.5, 0.135, lines(TEXT["scan"]["en"], 60), ha="center", va="top", fontsize=13, color="#333")
    put(0.5, 0.085, link, ha="center", va="top", fontsize=13, family="DejaVu Sans Mono")
    put(0.5, 0.045, TEXT["footer"]["vi"], ha="center", va="top", fontsize=10, color="#555")
    put(0.5, 0.027, TEXT["footer"]["en"], ha="center", va="top", fontsize=10, color="#555")

    out = io.BytesIO()
    fig.savefig(out, format="pdf", metadata={
        "Title": f"{unit['name_vi']} – QR" + (f" – {counter}" if counter else ""),
        "Subject": link, "Creator": "SIPAS survey platform"})
    return out.getvalue()


# ------------------------------------------------------------------ web pages
# Posters are for staff to print; the link they carry is public anyway. They
# are staff pages (any signed-in role) so that only citizen and kiosk routes are open.

bp = Blueprint("posters", __name__, url_prefix="/posters")


def _refused():
    from flask_babel import gettext as _

    return error_page(409, _("Set the public address first"), [no_public_address()], back=url_for("posters.index"))


def _unit_and_counter(slug: str) -> tuple[dict, str | None]:
    unit = by_slug(get_db(), slug)
    if unit is None or unit["id"] not in {u["id"] for u in leaf_units(get_db())}:
        abort(404)
    try:
        counter = clean_counter(request.args.get("counter"))
    except ValueError as exc:
        abort(400, description=str(exc))
    return unit, counter


@bp.get("/")
@login_required("staff")
def index():
    db = get_db()
    counters: dict[int, list[str]] = {}
    for k in kiosk_store.all_kiosks(db, include_revoked=False):
        counters.setdefault(k["unit_id"], []).append(k["name"])
    from flask_babel import gettext as _

    base = public_base_url()
    host = kiosk_store.unreachable_host(base) if base else None
    problem = no_public_address() if base is None else _(
        "Posters would point to %(host)s, which citizens' phones cannot reach: set PUBLIC_BASE_URL (see "
        "the README) before printing.", host=host) if host else None
    from ..units import page_number, page_of

    listing = page_of(leaf_units(db), request.args.get("q", ""), page_number(request.args.get("page")))
    return render_template("kiosk/posters.html", units=listing.units, listing=listing, counters=counters,
                           base_problem=problem)


def _refuse_unreachable(base: str, slug: str):
    """The page refusing a poster whose QR code would point to this computer or a private network
    (``public_base_url`` gives this machine's own address when PUBLIC_BASE_URL is unset), else None."""
    from flask_babel import gettext as _

    host = kiosk_store.unreachable_host(base)
    if host is None or request.args.get("force") == "1":
        return None
    return error_page(409, _("This poster's QR code would not work"), [
        _("The QR code would open %(link)s, and %(host)s is this computer or a private network: citizens' "
          "phones cannot reach it.", link=unit_link(base, slug), host=host),
        _("Set PUBLIC_BASE_URL to the address citizens reach the server at (e.g. https://khaosat.example.gov.vn) "
          "in instance/config.py or as SURVEY_PUBLIC_BASE_URL in the environment, restart the server, then print "
          "again."),
        _("For a test on the office network only, add force=1 to this page's address.")],
        back=url_for("posters.index"))


@bp.get("/<slug>")
@login_required("staff")
def poster(slug: str):
    unit, counter = _unit_and_counter(slug)
    base = public_base_url()
    if base is None:
        return _refused()
    refusal = _refuse_unreachable(base, unit["slug"])
    if refusal:
        return refusal
    link = unit_link(base, unit["slug"])
    return render_template("kiosk/poster.html", unit=unit, counter=counter, link=link, svg=qr_svg(link),
                           text=TEXT, pdf=url_for("posters.pdf", slug=slug, counter=counter, force=request.args.get("force")))


@bp.get("/<slug>.pdf")
@login_required("staff")
def pdf(slug: str):
    unit, counter = _unit_and_counter(slug)
    base = public_base_url()
    if base is None:
        return _refused()
    refusal = _refuse_unreachable(base, unit["slug"])
    if refusal:
        return refusal
    data = poster_pdf(unit, unit_link(base, unit["slug"]), counter)
    name = f"poster-{unit['slug']}" + (f"-{counter}" if counter else "")
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in name)
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{ascii_name}.pdf"'})
