"""The four files of a report, made once per language from the R reference tables (fixture ``made``)."""
import csv
import html.parser
import math
import re
import subprocess

import pytest
from openpyxl import load_workbook

from analysis.report.build import FILES
from analysis.report.i18n import Translator

from .conftest import require


# ---------------------------------------------------------------- all files

def test_the_four_files_are_written(made):
    assert sorted(p.name for p in made.folder.iterdir()) == sorted(FILES)
    assert all(made.files[name].stat().st_size > 1000 for name in FILES)


# ---------------------------------------------------------------- HTML

class _Refs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs, self.tags, self.ids = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "srcset", "poster", "data"):
                self.refs.append((tag, name, value or ""))
            if name == "id":
                self.ids.append(value)


def parsed(made) -> tuple[str, _Refs]:
    text = made.files["report.html"].read_text(encoding="utf-8")
    parser = _Refs()
    parser.feed(text)
    return text, parser


def test_html_has_no_outside_reference_at_all(made):
    text, parser = parsed(made)
    for tag, name, value in parser.refs:
        assert value.startswith("#") or value.startswith("data:"), f"<{tag} {name}={value!r}>"
    assert "http://" not in text and "https://" not in text
    assert not re.search(r"""(src|href)\s*=\s*["']?//""", text)
    assert not re.search(r"url\(\s*['\"]?(?!#|data:)", text), "CSS url() to something outside the file"
    assert "@import" not in text
    assert "script" not in parser.tags and "link" not in parser.tags and "img" not in parser.tags


def test_html_charts_are_inline_svg_with_ids_unique_in_the_page(made):
    text, parser = parsed(made)
    assert parser.tags.count("svg") >= 8
    assert len(parser.ids) == len(set(parser.ids))
    # every internal reference points at an element of the page
    targets = {v[1:] for _t, _n, v in parser.refs if v.startswith("#")}
    assert targets <= set(parser.ids)


def test_html_is_in_the_chosen_language(made):
    text, _ = parsed(made)
    t = Translator(made.lang)
    assert f'<html lang="{made.lang}">' in text
    for key in ("title", "s_summary", "s_units", "s_heatmap", "s_criteria", "s_distributions", "s_breakdowns",
                "s_counts", "s_methodology"):
        assert t(key) in text
    other = Translator("en" if made.lang == "vi" else "vi")
    assert other("s_methodology") not in text


def test_html_units_table_shows_every_unit_with_the_engines_numbers(made, report):
    text, _ = parsed(made)
    t = Translator(made.lang)
    table = re.search(r'<table id="t-(units|đơn-vị)">(.*?)</table>', text, re.S).group(2)
    for u in report.units:
        name = t.text(u.estimate.label)
        assert name in table
        row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{re.escape(name)}.*?</tr>", table, re.S).group(0)
        assert f">{t.pct_value(u.estimate.p)}<" in row
        if u.estimate.few:
            assert 'class="few"' in row and "†" in row


def test_html_summary_states_the_overall_index_with_its_interval(made, report):
    text, _ = parsed(made)
    t = Translator(made.lang)
    o = report.overall
    assert t.percent(o.p) in text and t.percent(o.low) in text and t.percent(o.high) in text


# ---------------------------------------------------------------- PDF

def pdftext(path, page=None) -> str:
    args = [require("pdftotext"), "-layout"]
    if page:
        args += ["-f", str(page), "-l", str(page)]
    return subprocess.run(args + [str(path), "-"], check=True, capture_output=True, text=True).stdout


def test_pdf_has_the_expected_pages_each_saying_what_it_is(made):
    t = Translator(made.lang)
    pdf = made.files["report.pdf"]
    info = subprocess.run([require("pdfinfo"), str(pdf)], check=True, capture_output=True, text=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages == len(made.pdf_pages)
    expected = ["s_summary", "s_units", "s_forest", "s_heatmap", "s_criteria", "s_distributions",
                "dim_channel_title", "dim_field_title", "dim_respondent_type_title", "s_counts", "weighting_title",
                "s_methodology"]
    assert list(dict.fromkeys(made.pdf_pages)) == [t(k) for k in expected]
    assert "A4" in info or "595.2 x 841.92" in info
    for number, title in enumerate(made.pdf_pages, start=1):
        text = pdftext(pdf, number)
        assert title in text, f"page {number} should say {title!r}"
        assert t("page", page=number) in text


def test_pdf_no_page_is_blank(made, tmp_path):
    from PIL import Image

    subprocess.run([require("pdftoppm"), "-r", "30", "-gray", "-png", str(made.files["report.pdf"]),
                    str(tmp_path / "p")], check=True)
    images = sorted(tmp_path.glob("p-*.png"))
    assert len(images) == len(made.pdf_pages)
    for image in images:
        with Image.open(image) as im:
            w, h = im.size
            body = im.convert("L").crop((0, int(h * 0.08), w, int(h * 0.92)))   # without running head and footer
            dark = sum(body.histogram()[:200])
            assert dark > 0.004 * body.size[0] * body.size[1], f"{image.name} is (nearly) blank"


def test_pdf_text_keeps_its_vietnamese_diacritics_and_embeds_its_fonts(made):
    text = pdftext(made.files["report.pdf"])
    if made.lang == "vi":
        for words in ("Tóm tắt", "Chỉ số hài lòng chung", "Huyện Cần Giờ", "Thành phố Thủ Đức", "Phương pháp"):
            assert words in text
    fonts = subprocess.run([require("pdffonts"), str(made.files["report.pdf"])], check=True,
                           capture_output=True, text=True).stdout
    lines = [line for line in fonts.splitlines()[2:] if line.strip()]
    assert lines and all("DejaVu" in line and " yes " in line for line in lines), fonts


# ---------------------------------------------------------------- XLSX and CSV

def oracle_value(row, column):
    v = row[column]
    return None if v in ("", "NA") else float(v)


def test_xlsx_has_one_sheet_per_table_with_frozen_headers_and_percent_formats(made):
    wb = load_workbook(made.files["indices.xlsx"])
    assert wb.sheetnames == made.sheets
    assert len(wb.sheetnames) == 14
    for ws in wb.worksheets[1:]:
        assert ws.freeze_panes in ("A2", "B2", "D2"), ws.title
        assert all(c.font.bold for c in ws[1] if c.value is not None), ws.title
    units = wb.worksheets[2]
    header = [c.value for c in units[1]]
    index_col = header.index(Translator(made.lang)("c_index")) + 1
    assert units.cell(row=2, column=index_col).number_format == "0.0%"


def test_every_number_in_the_units_and_criteria_sheets_is_the_analysis_output(made, inputs):
    t = Translator(made.lang)
    rows = {(r["district"], r["measure"]): r for r in inputs.table}
    wb = load_workbook(made.files["indices.xlsx"])
    checked = 0
    for sheet, key_col, measure in ((wb.worksheets[2], t("c_code"), "INDEX:ITEM_AVG"),
                                    (wb.worksheets[4], t("c_code"), None)):
        header = [c.value for c in sheet[1]]
        k = header.index(key_col)
        cols = {t("c_index"): "p", t("c_ci_low"): "ci_logit_l", t("c_ci_high"): "ci_logit_u", t("c_n"): "n",
                t("c_n_eff"): "n_eff_kish", t("c_deff"): "deff"}
        for values in sheet.iter_rows(min_row=2, values_only=True):
            key = values[k]
            row = rows[(key, measure)] if measure else rows[("ALL", key)]
            for title, column in cols.items():
                got = values[header.index(title)]
                want = oracle_value(row, column)
                if column.startswith("ci_logit") and want is None:
                    want = oracle_value(row, column.replace("logit", "kg"))
                if want is None:
                    assert got is None
                else:
                    assert got == want, f"{sheet.title} {key} {title}: {got} != {want}"
                    checked += 1
    assert checked > 150


def test_the_indices_sheet_and_indices_csv_hold_the_whole_analysis_table(made, inputs):
    with open(made.files["indices.csv"], encoding="utf-8", newline="") as handle:
        csv_rows = list(csv.DictReader(handle))
    assert len(csv_rows) == len(inputs.table)
    assert csv_rows[0].keys() == inputs.table[0].keys()
    assert [(r["district"], r["measure"], r["p"]) for r in csv_rows] == \
        [(r["district"], r["measure"], r["p"]) for r in inputs.table]
    ws = load_workbook(made.files["indices.xlsx"])["Indices"]
    header = [c.value for c in ws[1]]
    assert header == list(inputs.table[0].keys())
    for values, row in zip(ws.iter_rows(min_row=2, values_only=True), inputs.table):
        for name, got in zip(header, values):
            want = row[name]
            if want in ("TRUE", "FALSE"):
                assert got is (want == "TRUE")
            elif want in ("", None):
                assert got is None
            else:
                try:
                    assert got == float(want) and not (isinstance(got, float) and math.isnan(got))
                except ValueError:
                    assert got == want


def test_xlsx_marks_rows_with_too_few_responses(made, report):
    ws = load_workbook(made.files["indices.xlsx"]).worksheets[2]
    last = [c for c in ws[len(report.units) + 1]]
    assert "†" in str(last[1].value)
    assert all(c.font.italic for c in last)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_sheet_names_are_valid_for_excel(lang, made):
    for name in made.sheets:
        assert len(name) <= 31 and not set(name) & set("[]:*?/\\")
