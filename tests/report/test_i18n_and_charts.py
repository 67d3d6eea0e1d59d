import subprocess
import sys
import warnings

import numpy as np
import pytest
from matplotlib.figure import Figure

from analysis.report import charts, figures
from analysis.report.i18n import STRINGS, Translator, fields


def test_every_report_string_has_both_languages_with_the_same_placeholders():
    for key, (vi, en) in STRINGS.items():
        assert vi.strip() or key.startswith("m_weights_equal"), key
        assert en.strip() or key.startswith("m_weights_equal"), key
        assert fields(vi) == fields(en), key


def test_numbers_are_written_the_vietnamese_and_the_english_way():
    vi, en = Translator("vi"), Translator("en")
    assert vi.percent(0.82333) == "82,3\u00a0%" and en.percent(0.82333) == "82.3%"
    assert vi.number(1234567) == "1.234.567" and en.number(1234567) == "1,234,567"
    assert vi.points(-0.041) == "−4,1" and en.points(0.012) == "+1.2"
    assert vi.percent(float("nan")) == "–"


def test_an_unknown_report_language_is_refused():
    with pytest.raises(ValueError, match="vi, en"):
        Translator("fr")


def test_no_chart_code_imports_pyplot():
    code = ("import sys, analysis.report.build, analysis.report.charts, analysis.report.figures;"
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def draw(fn, *args, **kwargs):
    with figures.style():
        fig = Figure(figsize=(6, 4))
        ax = fig.add_subplot()
        assert fn(ax, *args, **kwargs) is ax
        with warnings.catch_warnings():
            warnings.simplefilter("error")          # a glyph missing from the font is a warning
            figures.to_png(fig, dpi=40)
    return ax


def test_vietnamese_labels_render_with_every_diacritic_in_the_font():
    labels = ["Huyện Cần Giờ", "Quận Bình Thạnh", "Thành phố Thủ Đức", "Tiếp nhận, xử lý góp ý",
              "ỹ ự ữ ổ ẫ ậ ặ ẻ ị ọ ụ"]
    ax = draw(charts.interval_plot, labels, [80, 70, 90, 85, 60], [75, 65, 85, 80, 50], [85, 75, 95, 90, 70])
    assert [t.get_text() for t in ax.get_yticklabels()] == labels


def test_units_with_too_few_responses_are_drawn_hollow_and_labelled_with_a_dagger():
    ax = draw(charts.interval_plot, ["A", "B"], [80, 60], [75, 30], [85, 90], few=[False, True],
              judgement=["above", "unreliable"], target=80, legend={"few": "too few"})
    markers = [line for line in ax.lines if line.get_marker() not in ("None", "", None)]
    faces = [line.get_markerfacecolor() for line in markers]
    assert faces == [charts.BLUE, "white"]          # filled for A, hollow for B
    assert [h.get_markerfacecolor() for h in ax.get_legend().legend_handles] == ["white"]
    assert ax.get_yticklabels()[1].get_text() == "B " + charts.FEW_MARK
    assert any(t.get_text() == "too few" for t in ax.get_legend().get_texts())


def test_judgements_differ_by_marker_shape_so_they_survive_greyscale_printing():
    shapes = {key: marker for key, (marker, _colour) in charts.JUDGEMENT_STYLE.items() if key != "unreliable"}
    assert len(set(shapes.values())) == len(shapes)


def test_answer_categories_differ_by_hatching_as_well_as_colour():
    # 1 and 5 (both dark) and 2 and 4 (both mid-grey when printed) must not look alike
    h = charts.SCORE_HATCHES
    assert h[0] != h[4] and h[1] != h[3]


def test_heatmap_hatches_cells_with_too_few_responses():
    values = np.array([[80.0, 70.0], [60.0, np.nan]])
    few = np.array([[False, False], [True, False]])
    ax = draw(charts.heatmap, values, ["u1", "u2"], ["F1", "F2"], few=few, few_label="too few",
              fmt=lambda v: f"{v:.1f}".replace(".", ","))
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert len(hatched) == 1
    assert {t.get_text() for t in ax.texts} == {"80,0", "70,0", "60,0"}


def test_stacked_shares_put_every_category_in_the_legend():
    shares = np.array([[10, 15, 25, 30, 20], [5, 5, 20, 40, 30]], dtype=float)
    ax = draw(charts.stacked_shares, ["F1", "F2"], shares, ["1", "2", "3", "4", "5"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["1", "2", "3", "4", "5"]
