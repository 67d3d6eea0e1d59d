"""The report reads right: the PDF's pages rendered with pdftoppm keep every mark inside the printable
margins; the criteria chart's labels are distinguishable; one effective sample size (Kish's), the same
on page 1 and in the weighting table; a quoted largest gap is the one of the printed margins; local
time, and no English computation log inside a Vietnamese report."""
from __future__ import annotations

import re
import subprocess

from analysis.report import tables as T
from analysis.report.i18n import Translator

from .conftest import require

MM_PER_PX = 25.4 / 72
MARGIN_MM = 15   # the layout's margins are 19 mm; nothing may come closer to the paper's edge than this


def _pages(pdf) -> list[str]:
    text = subprocess.run([require("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    return text.split("\f")


def test_every_mark_on_every_page_stays_inside_the_printable_margins(made, tmp_path):
    from PIL import Image

    subprocess.run([require("pdftoppm"), "-r", "72", "-gray", "-png", str(made.files["report.pdf"]),
                    str(tmp_path / "p")], check=True)
    images = sorted(tmp_path.glob("p-*.png"))
    assert images
    for image in images:
        with Image.open(image) as im:
            page = im.convert("L")
            width, height = page.size
            dark = page.point(lambda v: 255 if v < 160 else 0)      # ink, as a mask
            left, _top, right, _bottom = dark.getbbox()
            assert left * MM_PER_PX >= MARGIN_MM, f"{image.name}: ink {left * MM_PER_PX:.1f} mm from the left edge"
            gap = (width - right) * MM_PER_PX
            assert gap >= MARGIN_MM, f"{image.name}: ink {gap:.1f} mm from the right edge"


def test_criteria_labels_can_be_told_apart(made, report):
    t = Translator(made.lang)
    pages = _pages(made.files["report.pdf"])
    page = next(p for p in pages if t("s_criteria") in p and re.search(r"q\d\d ", p))
    labels = re.findall(r"(q\d\d) ([^\n]+?)\s{2,}", page + "  ")
    by_code = {code: " ".join(text.split()) for code, text in labels}
    assert len(by_code) >= len(report.criteria) - 2, by_code
    texts = [v for v in by_code.values()]
    assert len(set(texts)) == len(texts), f"labels that read the same: {texts}"


def test_one_effective_sample_size_the_same_on_page_one_and_in_the_weighting_table(made, report):
    t = Translator(made.lang)
    pages = _pages(made.files["report.pdf"])
    kish = t.number(report.weighting.n_eff_kish)
    first = " ".join(pages[0].split())
    assert re.search(rf"Kish[^.]{{0,40}} {re.escape(kish)}:", first), "page 1 names Kish's effective sample size"
    weighting_page = next(" ".join(p.split()) for p in pages if t("w_deff_kish").split()[0] in p and "Kish" in p
                          and p is not pages[0] and kish in " ".join(p.split()))
    assert kish in weighting_page
    # no other effective sample size of all the responses on page 1
    others = {t.number(report.overall.n / report.overall.deff)} if report.overall.deff == report.overall.deff else set()
    assert not any(f" {o} " in first for o in others - {kish})


def test_the_largest_gap_quoted_is_the_one_of_the_printed_margins_table(made, report):
    t = Translator(made.lang)
    shown = T.margins(report, t, per_unit=False)
    gaps = [abs(row[-1]) for row in shown.rows]
    weighting = T.weighting(report, t, per_unit=False)
    quoted = next(row[1] for row in weighting.rows if row[0] == t("w_fit_shown"))
    assert abs(quoted.value - max(gaps)) < 1e-12
    assert not any(row[0] == t("w_fit") for row in weighting.rows)
    number = t.number(100 * max(gaps), 1)   # shares: the gap is printed in percentage points
    text = " ".join(" ".join(_pages(made.files["report.pdf"])).split())
    assert text.count(number) >= 2, f"{number} is quoted and must also be in the printed margins table"


def test_local_time_and_no_english_log_in_a_vietnamese_report(made):
    pdf = " ".join(_pages(made.files["report.pdf"]))
    html = made.files["report.html"].read_text(encoding="utf-8")
    assert "UTC" not in pdf and " UTC<" not in html
    if made.lang == "vi":
        t = Translator("vi")
        assert t("m_log_title") not in pdf and t("m_log_title") not in html
