"""Every word a report prints, in Vietnamese and English, and number/date formats per language.

One table (:data:`STRINGS`, key -> (vi, en)) so a translator edits one place;
a test checks that every key has both languages and the same ``{fields}``.
Vietnamese writes 82,3 and 1.234.567; English 82.3 and 1,234,567.
"""
from __future__ import annotations

import math
import string
import unicodedata
from dataclasses import dataclass
from datetime import date as Date, datetime

from questionnaires.loader import Text

LANGUAGES = ("vi", "en")

STRINGS: dict[str, tuple[str, str]] = {
    # title page
    "title": ("Báo cáo Chỉ số hài lòng về sự phục vụ hành chính (SIPAS)",
              "Satisfaction Index of Public Administrative Services (SIPAS): report"),
    "period": ("Kỳ báo cáo", "Period"),
    "compare_period": ("Kỳ so sánh", "Comparison period"),
    "units_in_report": ("Đơn vị", "Units"),
    "n_units": ("{n} đơn vị (danh sách ở bảng theo đơn vị)", "{n} units (listed in the table by unit)"),
    "questionnaire": ("Bảng hỏi", "Questionnaire"),
    "questionnaire_version": ("{title} (mã {id}, phiên bản {version})", "{title} (id {id}, version {version})"),
    "target": ("Chỉ tiêu", "Target"),
    "generated": ("Lập lúc", "Generated"),
    "source": ("Dữ liệu", "Data"),
    "contents": ("Mục lục", "Contents"),
    "sheet_about": ("Thông tin", "About"),
    "page": ("Trang {page}", "Page {page}"),
    # section titles
    "s_summary": ("Tóm tắt", "Summary"),
    "s_units": ("Chỉ số theo đơn vị", "Index by unit"),
    "s_forest": ("Chỉ số và khoảng tin cậy theo đơn vị", "Index and confidence interval by unit"),
    "s_heatmap": ("Chỉ số theo yếu tố và đơn vị", "Index by factor and unit"),
    "s_criteria": ("Các tiêu chí, thấp nhất trước: nơi cần cải thiện", "Criteria, lowest first: where to act"),
    "s_distributions": ("Phân bố câu trả lời 1–5 theo yếu tố", "Answers 1–5 by factor"),
    "s_breakdowns": ("Chỉ số theo kênh khảo sát, lĩnh vực và đối tượng", "Index by channel, field and respondent group"),
    "s_counts": ("Số phiếu và gia quyền", "Responses and weighting"),
    "s_methodology": ("Phương pháp", "Methodology"),
    "s_sample": ("Mẫu xác suất từ sổ hồ sơ", "Probability sample from the dossier register"),
    "s_feedback": ("Ý kiến phản hồi qua kiosk và đường dẫn mở", "Feedback from kiosks and open links"),
    "sample_text": (
        "Chỉ số chính thức của kỳ này tính từ mẫu ngẫu nhiên phân tầng gồm {sampled} hồ sơ, rút từ {population} "
        "hồ sơ hoàn thành từ {start} đến {end}; {responded} người đã trả lời, {ineligible} hồ sơ không thuộc đối "
        "tượng khảo sát. Trọng số N_h/n_h được hiệu chỉnh theo tỷ lệ không trả lời trong từng ô, có hiệu chỉnh "
        "quần thể hữu hạn.",
        "The official index of this period comes from a stratified random sample of {sampled} dossiers drawn "
        "from the {population} dossiers completed from {start} to {end}; {responded} people answered and "
        "{ineligible} dossiers were outside the survey population. Weights N_h/n_h are adjusted for "
        "non-response within cells, with the finite population correction."),
    "sample_rates": ("Tỷ lệ trả lời theo AAPOR: RR1 {rr1}, RR3 {rr3}.",
                     "Response rates (AAPOR): RR1 {rr1}, RR3 {rr3}."),
    "feedback_note": (
        "Những phiếu này do người dân tự chọn trả lời: không gia quyền theo sổ hồ sơ và không tính vào chỉ số "
        "chính thức. Khoảng tin cậy chỉ mô tả chính những người đã trả lời.",
        "These responses come from people who chose to answer: they are not weighted to the register and are "
        "not part of the official index. Their intervals describe only the people who answered."),
    "feedback_none": ("Không có phiếu nào qua kiosk hoặc đường dẫn mở trong kỳ.",
                      "No kiosk or open-link responses in the period."),
    "fb_unit": ("Đơn vị", "Unit"),
    "fb_n": ("Số phiếu", "Responses"),
    "fb_index": ("Chỉ số (không gia quyền)", "Index (unweighted)"),
    "fb_ci": ("Khoảng tin cậy 95 %", "95 % interval"),
    "fb_all": ("Tất cả đơn vị", "All units"),
    # summary
    "overall_index": ("Chỉ số hài lòng chung", "Overall satisfaction index"),
    "summary_overall": (
        "Chỉ số hài lòng chung là {p} (khoảng tin cậy 95 %: {low} – {high}), tính từ {n} phiếu hợp lệ "
        "(cỡ mẫu hiệu dụng theo Kish {n_eff}: số phiếu không gia quyền có giá trị tương đương, (Σw)²/Σw²).",
        "The overall satisfaction index is {p} (95 % confidence interval {low} to {high}), from {n} valid "
        "responses (Kish's effective sample size {n_eff}: the number of unweighted responses worth as much, "
        "(Σw)²/Σw²)."),
    "summary_target_above": ("Chỉ số đạt chỉ tiêu {target}: cả khoảng tin cậy nằm trên chỉ tiêu.",
                             "The index meets the target of {target}: the whole confidence interval lies above it."),
    "summary_target_below": ("Chỉ số chưa đạt chỉ tiêu {target}: cả khoảng tin cậy nằm dưới chỉ tiêu.",
                             "The index falls short of the target of {target}: the whole confidence interval lies below it."),
    "summary_target_inconclusive": (
        "Chưa thể kết luận chỉ số có đạt chỉ tiêu {target} hay không: khoảng tin cậy chứa chỉ tiêu.",
        "It cannot be said whether the index meets the target of {target}: the confidence interval contains it."),
    "summary_target_unreliable": ("Không đủ phiếu để đánh giá so với chỉ tiêu {target}.",
                                  "There are too few responses to judge the index against the target of {target}."),
    "summary_change": (
        "So với kỳ {period} ({previous}), chỉ số thay đổi {diff} điểm phần trăm (khoảng tin cậy 95 %: {low} – {high}); {verdict}.",
        "Compared with {period} ({previous}), the index changed by {diff} percentage points (95 % confidence "
        "interval {low} to {high}); {verdict}."),
    "change_significant": ("thay đổi này có ý nghĩa thống kê", "the change is statistically significant"),
    "change_not_significant": ("thay đổi này không có ý nghĩa thống kê (có thể chỉ do ngẫu nhiên của mẫu)",
                               "the change is not statistically significant (it may be sampling noise)"),
    "summary_no_compare": ("Kỳ so sánh {period} không có phiếu hợp lệ nào.",
                           "The comparison period {period} has no valid responses."),
    "summary_units": (
        "Trong {total} đơn vị: {above} đạt chỉ tiêu, {below} chưa đạt, {inconclusive} chưa kết luận được, "
        "{unreliable} không đủ phiếu để đánh giá.",
        "Of {total} units: {above} meet the target, {below} fall short, {inconclusive} cannot be told apart "
        "from it, {unreliable} have too few responses to judge."),
    "summary_lowest": ("Các tiêu chí thấp nhất: {items}.", "The lowest criteria: {items}."),
    "summary_factors": ("Chỉ số theo yếu tố", "Index by factor"),
    "caveats": ("Lưu ý khi đọc báo cáo", "Reading this report"),
    "caveat_index": (
        "Chỉ số của một tiêu chí là tỷ lệ câu trả lời «Hài lòng» hoặc «Rất hài lòng» trong số câu trả lời hợp lệ; "
        "chỉ số yếu tố và chỉ số chung là trung bình các chỉ số tiêu chí. «Bình thường» không được tính là hài lòng.",
        "A criterion's index is the share of valid answers that are 'satisfied' or 'very satisfied'; factor and "
        "overall indices are the mean of their criteria's indices. 'Neutral' does not count as satisfied."),
    "caveat_ci": (
        "Khoảng tin cậy 95 % cho biết độ bất định do chỉ khảo sát một mẫu: hai đơn vị có khoảng tin cậy chồng lên "
        "nhau nhiều thì không nên xếp hạng hơn kém nhau.",
        "The 95 % confidence interval shows the uncertainty that comes from surveying a sample: units whose "
        "intervals overlap a lot should not be ranked above one another."),
    "caveat_few": (
        "Đơn vị có dấu {mark} có quá ít phiếu (dưới 30 phiếu hoặc cỡ mẫu hiệu dụng dưới 30, hoặc khoảng tin cậy "
        "quá rộng theo tiêu chuẩn NCHS): số liệu chỉ để tham khảo, không xếp hạng, không đánh giá so với chỉ tiêu.",
        "Units marked {mark} have too few responses (under 30, an effective sample size under 30, or an interval "
        "too wide by the NCHS standard): their figures are shown for reference only, not ranked and not judged "
        "against the target."),
    "caveat_weights": (
        "Các phiếu được gia quyền ({method}) để cơ cấu mẫu gần với dân số; người trả lời là những người vừa làm "
        "thủ tục, không phải mẫu ngẫu nhiên của toàn dân.",
        "Responses are weighted ({method}) so that the sample resembles the population; respondents are people "
        "who have just completed a procedure, not a random sample of all residents."),
    "caveat_no_weights": ("Các phiếu không được gia quyền (mỗi phiếu có trọng số bằng nhau).",
                          "Responses are not weighted (every response counts the same)."),
    "caveat_excluded": ("{n} phiếu bị loại khỏi phân tích (xem phần Phương pháp).",
                        "{n} responses were excluded from the analysis (see Methodology)."),
    "caveat_other_questionnaires": (
        "Kỳ này còn có phiếu theo bảng hỏi khác, không được tính trong báo cáo này (báo cáo riêng bằng cách "
        "chọn bảng hỏi đó): {listing}.",
        "The period also holds responses to other questionnaires, counted in no figure of this report "
        "(report them separately by choosing that questionnaire): {listing}."),
    "other_questionnaire_item": ("{title} (mã {id}): {n} phiếu", "{title} (id {id}): {n} responses"),
    "other_questionnaires": ("Bảng hỏi khác trong kỳ", "Other questionnaires in the period"),
    # judgements
    "j_above": ("Đạt", "Meets target"),
    "j_below": ("Chưa đạt", "Below target"),
    "j_inconclusive": ("Chưa kết luận", "Inconclusive"),
    "j_unreliable": ("Không đủ phiếu", "Too few responses"),
    "j_above_long": ("Đạt chỉ tiêu (cả khoảng tin cậy ≥ chỉ tiêu)", "Meets the target (whole interval ≥ target)"),
    "j_below_long": ("Chưa đạt chỉ tiêu (cả khoảng tin cậy < chỉ tiêu)", "Below the target (whole interval < target)"),
    "j_inconclusive_long": ("Chưa kết luận (khoảng tin cậy chứa chỉ tiêu)", "Inconclusive (interval contains the target)"),
    "j_unreliable_long": ("Không đủ phiếu để đánh giá", "Too few responses to judge"),
    # table columns
    "c_rank": ("Hạng", "Rank"),
    "c_unit": ("Đơn vị", "Unit"),
    "c_index": ("Chỉ số (%)", "Index (%)"),
    "c_ci": ("KTC 95 % (%)", "95 % CI (%)"),
    "ci_label": ("KTC 95 %", "95 % CI"),
    "c_ci_low": ("Cận dưới (%)", "CI low (%)"),
    "c_ci_high": ("Cận trên (%)", "CI high (%)"),
    "c_n": ("Số phiếu", "n"),
    "c_n_eff": ("Cỡ mẫu hiệu dụng (Kish)", "Effective n (Kish)"),
    "c_deff": ("Hiệu ứng thiết kế", "Design effect"),
    "c_se": ("Sai số chuẩn", "Standard error"),
    "c_flags": ("Cảnh báo", "Flags"),
    "c_judgement": ("So với chỉ tiêu", "Against target"),
    "c_change": ("Thay đổi (điểm %)", "Change (pp)"),
    "c_change_ci": ("KTC 95 % của thay đổi", "95 % CI of change"),
    "c_previous": ("Kỳ so sánh (%)", "Comparison period (%)"),
    "c_code": ("Mã", "Code"),
    "c_valid": ("Hiệu lực", "Valid"),
    "valid_until": ("đến {date}", "until {date}"),
    "valid_from": ("từ {date}", "from {date}"),
    "valid_between": ("{start} – {end}", "{start} to {end}"),
    "rows_left_out": ("Bảng dưới đây chỉ có {n} dòng đầu và cuối bị lược bớt ở giữa ({n} dòng): tệp Excel có đủ.",
                      "{n} rows in the middle of the table below are left out here: the workbook has them all."),
    "indices_in_csv": ("Bảng đầy đủ của công cụ phân tích có {n} dòng: xem tệp indices.csv đi kèm.",
                       "The engine's full table has {n} rows: see indices.csv, written with this workbook."),
    "ranks_part": ("hạng {first}–{last} trên {n}", "ranks {first}–{last} of {n}"),
    "c_former": ("Đơn vị cũ", "Former unit"),
    "c_new_units": ("Số đơn vị mới", "New units"),
    "c_area_now": ("Địa bàn nay (%)", "Its area now (%)"),
    "c_n_now": ("Số phiếu nay", "n now"),
    "c_former_before": ("Đơn vị cũ (%)", "Former unit (%)"),
    "c_n_before": ("Số phiếu cũ", "n before"),
    "c_caveat": ("Lưu ý", "Caveat"),
    "s_former": ("Đơn vị mới theo đơn vị cũ", "New units by former unit"),
    "text_former": (
        "Sau khi sắp xếp đơn vị hành chính, mỗi đơn vị mới được gộp theo đơn vị cũ đã đóng góp nhiều địa bàn nhất "
        "cho nó. «Địa bàn nay» là chỉ số của các đơn vị mới thuộc nhóm đó; «Đơn vị cũ» là chỉ số của chính đơn vị cũ "
        "({before}). Dấu * đánh dấu nhóm có đơn vị mới chỉ nhận một phần địa bàn từ đơn vị cũ: hai địa bàn không "
        "trùng khớp hoàn toàn (xem lưu ý dưới bảng).",
        "After the reorganisation of administrative units, each new unit is grouped under the former unit that "
        "contributed most of its area. 'Its area now' is the index of the new units of the group; 'Former unit' is "
        "the former unit's own index ({before}). * marks groups where some new units took only part of their area "
        "from the former unit: the two areas are not exactly the same (see the caveats below the table)."),
    "former_before_compare": ("kỳ so sánh", "comparison period"),
    "former_before_same": ("cùng kỳ báo cáo, trước khi sắp xếp", "same period, before the reorganisation"),
    "text_units_periods": (
        "Kỳ báo cáo bao gồm một lần thay đổi đơn vị: {sets}. Mỗi phiếu được tính cho đơn vị có hiệu lực vào ngày "
        "trả lời (cột «Hiệu lực»).",
        "The period spans a change of units: {sets}. Each response counts for the unit valid on its date "
        "(column 'Valid')."),
    "unit_set": ("{n} đơn vị {valid}", "{n} units {valid}"),
    "text_units_edge": (
        "Có {n} đơn vị: biểu đồ chỉ thể hiện {edge} đơn vị cao nhất và {edge} đơn vị thấp nhất; bảng và tệp Excel "
        "có đầy đủ thứ hạng.",
        "There are {n} units: the charts show the {edge} highest and the {edge} lowest; the table and the workbook "
        "hold the full ranking."),
    "c_criterion": ("Tiêu chí", "Criterion"),
    "c_factor": ("Yếu tố", "Factor"),
    "c_category": ("Nhóm", "Category"),
    "c_dimension": ("Phân theo", "Breakdown"),
    "c_responses": ("Số phiếu nhận", "Responses received"),
    "c_excluded": ("Bị loại", "Excluded"),
    "c_used": ("Dùng để tính", "Used"),
    "c_reason": ("Lý do", "Reason"),
    "c_count": ("Số phiếu", "Count"),
    "c_gap": ("Chênh lệch (điểm %)", "Gap (pp)"),
    "all_units_short": ("Tất cả", "All"),
    "c_population_share": ("Tỷ lệ dân số (%)", "Population share (%)"),
    "c_sample_share": ("Tỷ lệ trong mẫu (%)", "Sample share (%)"),
    "c_weighted_share": ("Tỷ lệ sau gia quyền (%)", "Weighted share (%)"),
    "c_sample_n": ("Số phiếu", "Responses"),
    "c_margin": ("Biên", "Margin"),
    "c_total": ("Tổng", "Total"),
    "c_item": ("Chỉ tiêu thống kê", "Statistic"),
    "c_value": ("Giá trị", "Value"),
    "c_share": ("{label} (%)", "{label} (%)"),
    # flags
    "flag_n_lt_30": ("n < 30", "n < 30"),
    "flag_neff_lt_30": ("n hiệu dụng < 30", "effective n < 30"),
    "flag_cv_gt_30": ("CV > 30 %", "CV > 30 %"),
    "nchs_suppress": ("NCHS: không công bố", "NCHS: suppress"),
    "nchs_review": ("NCHS: cần xem lại", "NCHS: review"),
    "flag_items_missing": ("thiếu tiêu chí: không xếp hạng", "criteria missing: not ranked"),
    # small-area estimates
    "s_small_areas": ("Ước lượng vùng nhỏ (mô hình Fay–Herriot)", "Small-area estimates (Fay–Herriot model)"),
    "c_direct": ("Trực tiếp (%)", "Direct (%)"),
    "c_sae": ("Vùng nhỏ (%)", "Small-area (%)"),
    "c_sae_ci": ("Khoảng vùng nhỏ", "Small-area interval"),
    "c_direct_weight": ("Trọng số của số liệu trực tiếp (%)", "Weight of the direct result (%)"),
    "c_rank_range": ("Khoảng hạng", "Rank range"),
    "c_use": ("Nên dùng", "Use"),
    "use_direct": ("trực tiếp", "direct"),
    "use_sae": ("vùng nhỏ", "small-area"),
    "text_small_areas_plain": (
        "Nhiều đơn vị có ít phiếu, nên chỉ số trực tiếp của họ có khoảng tin cậy rộng và thứ hạng phần lớn là do "
        "ngẫu nhiên. Ước lượng vùng nhỏ kết hợp kết quả của chính đơn vị với những gì các đơn vị tương tự (cùng loại, "
        "cùng quận cũ, kết quả kỳ trước…) đạt được: đơn vị càng nhiều phiếu thì càng giữ kết quả của mình, càng ít "
        "phiếu thì càng được kéo về phía các đơn vị tương tự. Các ước lượng được điều chỉnh để trung bình theo dân số "
        "bằng chỉ số trực tiếp của toàn thành phố. Thứ hạng dùng ước lượng vùng nhỏ, kèm khoảng hạng mà khoảng tin "
        "cậy cho phép.",
        "Many units have few responses, so their direct index has a wide interval and their rank is mostly "
        "chance. The small-area estimate combines the unit's own result with what similar units (same kind, same "
        "former district, last period's result...) score: the more responses a unit has, the more it keeps its "
        "own result; the fewer, the more it is pulled towards similar units. The estimates are adjusted so that "
        "their population-weighted mean equals the city's direct index. Ranks use the small-area estimates, with "
        "the range of ranks their intervals allow."),
    "text_small_areas": (
        "Trọng số của số liệu trực tiếp = A/(A + phương sai mẫu của đơn vị). «Nên dùng: trực tiếp» khi số liệu trực "
        "tiếp chính xác ít nhất bằng ước lượng vùng nhỏ. Đơn vị không xếp hạng: chỉ số trên ít tiêu chí hơn bảng hỏi. "
        "Chi tiết: docs/analysis.md.",
        "Weight of the direct result = A/(A + the unit's sampling variance). 'Use: direct' where the direct result "
        "is at least as precise as the small-area estimate. Units without a rank: an index over fewer criteria than "
        "the questionnaire's. Details: docs/analysis.md."),
    "sae_rows_all": ("Đủ {n} đơn vị, theo hạng vùng nhỏ (bảng dài thì kéo dài qua các trang sau, lặp lại tiêu đề cột).",
                     "All {n} units, by small-area rank (a long table runs over the following pages, its header "
                     "repeated)."),
    "sae_rows_edges": ("Chỉ {edge} đơn vị đứng đầu và {edge} đơn vị đứng cuối trong {n} đơn vị; {more} đơn vị ở giữa "
                       "có trong tệp Excel (trang «Ước lượng vùng nhỏ»).",
                       "Only the {edge} best and the {edge} worst of {n} units; the {more} in between are in the "
                       "workbook (sheet 'Small areas')."),
    # charts
    "x_index": ("Chỉ số hài lòng (%)", "Satisfaction index (%)"),
    "x_share": ("Tỷ lệ câu trả lời (%)", "Share of answers (%)"),
    "x_responses": ("Số phiếu", "Responses"),
    "x_population_share": ("Tỷ lệ (%)", "Share (%)"),
    "legend_target": ("Chỉ tiêu {target}", "Target {target}"),
    "legend_reference": ("Chỉ số chung {value} và KTC 95 %", "Overall index {value} and 95 % CI"),
    "legend_few": ("{mark} Quá ít phiếu (không xếp hạng)", "{mark} Too few responses (not ranked)"),
    "legend_population": ("Dân số", "Population"),
    "legend_sample": ("Mẫu, chưa gia quyền", "Sample, unweighted"),
    "legend_weighted": ("Mẫu, sau gia quyền", "Sample, weighted"),
    "colorbar_index": ("Chỉ số (%)", "Index (%)"),
    "fig_forest_alt": (
        "Biểu đồ chỉ số hài lòng của từng đơn vị với khoảng tin cậy 95 %, sắp xếp từ cao xuống thấp, với đường chỉ tiêu.",
        "Chart of each unit's satisfaction index with its 95 % confidence interval, highest first, with the target line."),
    "fig_heatmap_alt": ("Bảng màu chỉ số của từng yếu tố tại từng đơn vị.",
                        "Shaded table of each factor's index in each unit."),
    "fig_criteria_alt": ("Biểu đồ chỉ số của từng tiêu chí với khoảng tin cậy 95 %, thấp nhất ở trên.",
                         "Chart of each criterion's index with its 95 % confidence interval, lowest on top."),
    "fig_distributions_alt": ("Biểu đồ cột chồng tỷ lệ các mức trả lời 1 đến 5 của từng yếu tố.",
                              "Stacked bars of the shares of answers 1 to 5 for each factor."),
    "fig_breakdown_alt": ("Biểu đồ chỉ số theo {dimension} với khoảng tin cậy 95 %.",
                          "Chart of the index by {dimension} with 95 % confidence intervals."),
    "fig_counts_alt": ("Biểu đồ số phiếu của từng đơn vị theo kênh khảo sát.",
                       "Bars of each unit's responses by channel."),
    "fig_margins_alt": ("Biểu đồ so sánh cơ cấu mẫu trước và sau gia quyền với cơ cấu dân số.",
                        "Chart comparing the sample's make-up before and after weighting with the population's."),
    "text_units": (
        "Các đơn vị được xếp theo chỉ số từ cao xuống thấp; đơn vị quá ít phiếu đứng cuối và không xếp hạng. "
        "Cột «So với chỉ tiêu» chỉ kết luận khi cả khoảng tin cậy nằm về một phía của chỉ tiêu.",
        "Units are sorted by index, highest first; units with too few responses come last and are not ranked. "
        "'Against target' gives a verdict only when the whole confidence interval lies on one side of the target."),
    "text_criteria": (
        "Tiêu chí có chỉ số thấp nhất đứng đầu: đó là nơi nên ưu tiên cải thiện. Khoảng tin cậy chồng nhau "
        "nghĩa là thứ tự giữa các tiêu chí đó chưa chắc chắn.",
        "The criteria with the lowest index come first: that is where to act. Overlapping intervals mean the "
        "order between those criteria is uncertain."),
    "text_distributions": (
        "Tỷ lệ trung bình theo các tiêu chí của yếu tố, sau gia quyền; phần «Hài lòng» và «Rất hài lòng» cộng lại "
        "bằng chỉ số của yếu tố.",
        "Weighted shares averaged over the factor's criteria; 'satisfied' and 'very satisfied' add up to the "
        "factor's index."),
    "text_breakdowns": (
        "Chỉ số tính riêng cho từng nhóm phiếu (cùng trọng số, cùng phương pháp). Khác biệt giữa các kênh có thể "
        "do người dùng mỗi kênh khác nhau, không chỉ do kênh.",
        "The index computed separately for each group of responses (same weights, same method). Differences "
        "between channels can come from who uses each channel, not only from the channel itself."),
    "text_heatmap": ("Ô có gạch chéo: quá ít phiếu để tin cậy.", "Hatched cells: too few responses to be reliable."),
    "dim_channel": ("kênh khảo sát", "channel"),
    "dim_field": ("lĩnh vực thủ tục", "field of procedure"),
    "dim_respondent_type": ("đối tượng trả lời", "respondent group"),
    "dim_age_band": ("nhóm tuổi", "age band"),
    "dim_unit": ("đơn vị", "unit"),
    "dim_gender": ("giới tính", "gender"),
    "dim_channel_title": ("Theo kênh khảo sát", "By channel"),
    "dim_field_title": ("Theo lĩnh vực thủ tục", "By field of procedure"),
    "dim_respondent_type_title": ("Theo đối tượng trả lời", "By respondent group"),
    "all_criteria": ("Tất cả tiêu chí", "All criteria"),
    "no_rows": ("Không có số liệu.", "No data."),
    "not_applicable": ("–", "–"),
    # counts and weighting
    "counts_total": ("Tổng cộng {responses} phiếu nhận trong kỳ, {excluded} bị loại, {used} dùng để tính.",
                     "{responses} responses received in the period, {excluded} excluded, {used} used."),
    "weighting_title": ("Gia quyền", "Weighting"),
    "weighting_method_none": ("không gia quyền, mỗi phiếu có trọng số 1", "no weighting: every response weighs 1"),
    "weighting_method_design": ("trọng số thiết kế: dân số của đơn vị / số phiếu của đơn vị",
                                "design weights: unit population / responses in the unit"),
    "weighting_method_poststratification": (
        "hậu phân tầng theo đơn vị × nhóm tuổi (dân số theo Tổng điều tra 2019)",
        "post-stratification to unit × age band (2019 census populations)"),
    "weighting_method_raking": (
        "cân chỉnh lặp (raking) theo đơn vị × nhóm tuổi và giới tính toàn thành phố (Tổng điều tra 2019)",
        "raking to unit × age band and to the city's gender split (2019 census)"),
    "w_method": ("Phương pháp", "Method"),
    "w_min": ("Trọng số nhỏ nhất", "Smallest weight"),
    "w_max": ("Trọng số lớn nhất", "Largest weight"),
    "w_mean": ("Trọng số trung bình", "Mean weight"),
    "w_ratio": ("Tỷ số lớn nhất / nhỏ nhất", "Largest / smallest"),
    "w_deff_kish": ("Hiệu ứng thiết kế do gia quyền (Kish)", "Design effect of weighting (Kish)"),
    "w_n_eff_kish": ("Cỡ mẫu hiệu dụng (Kish)", "Effective sample size (Kish)"),
    "w_iterations": ("Số vòng lặp", "Iterations"),
    "w_converged": ("Hội tụ", "Converged"),
    "w_trimmed": ("Số trọng số bị cắt", "Weights trimmed"),
    "w_fit_shown": ("Sai lệch lớn nhất trong bảng biên dân số dưới đây (điểm %)",
                    "Largest gap in the margins table below (percentage points)"),
    "w_fit": ("Sai lệch lớn nhất so với biên (điểm %)", "Largest gap to a margin (percentage points)"),
    "yes": ("có", "yes"),
    "no": ("không", "no"),
    "margins_title": ("Độ khớp với biên dân số", "Fit to the population margins"),
    "exclusions_title": ("Phiếu bị loại", "Excluded responses"),
    "no_exclusions": ("Không có phiếu nào bị loại.", "No responses were excluded."),
    "reason_unknown": ("(không ghi lý do)", "(no reason given)"),
    # methodology
    "m_index_title": ("Chỉ số", "The index"),
    "m_index": (
        "Tiêu chí j: P_j = Σ wᵢ·[yᵢⱼ ≥ {top}] / Σ wᵢ, tổng trên các phiếu có câu trả lời hợp lệ (1–5) cho tiêu chí j; "
        "câu bỏ trống và «không áp dụng» không tính. Yếu tố: trung bình các P_j của yếu tố{weights}. "
        "Chỉ số chung: trung bình các P_j của tất cả {items} tiêu chí.",
        "Criterion j: P_j = Σ wᵢ·[yᵢⱼ ≥ {top}] / Σ wᵢ over the responses with a valid answer (1–5) to j; blank "
        "and 'not applicable' answers leave the denominator. Factor: the mean of its criteria's P_j{weights}. "
        "Overall index: the mean of the P_j of all {items} criteria."),
    "m_weights_equal": ("", ""),
    "m_weights_given": (" (theo trọng số tiêu chí của bảng hỏi)", " (with the questionnaire's criterion weights)"),
    "m_variance_title": ("Khoảng tin cậy", "Confidence intervals"),
    "m_variance": (
        "Phương sai theo phương pháp tuyến tính hoá Taylor cho thiết kế có trọng số và phân tầng theo đơn vị "
        "(như gói survey của R: svydesign, svyciprop); mỗi đơn vị là một miền (domain) của cùng thiết kế. "
        "Chỉ số tổng hợp dùng biến tuyến tính hoá zᵢ = (1/J) Σⱼ rᵢⱼ (yᵢⱼ − P_j) / W_j. "
        "Khoảng tin cậy {level} trên thang logit với phân vị t theo số bậc tự do của miền; khi chỉ số bằng 0 "
        "hoặc 100 % dùng khoảng Korn–Graubard. Hiệu ứng thiết kế (deff) so với mẫu ngẫu nhiên đơn giản có hoàn lại; "
        "cỡ mẫu hiệu dụng = n / deff.",
        "Variance by Taylor linearisation for a weighted design stratified by unit (as R's survey package: "
        "svydesign, svyciprop); each unit is a domain of the one design. Composite indices use the linearised "
        "variable zᵢ = (1/J) Σⱼ rᵢⱼ (yᵢⱼ − P_j) / W_j. {level} intervals on the logit scale with a t quantile "
        "on the domain's degrees of freedom; where the index is 0 or 100 % the Korn–Graubard interval is used. "
        "Design effect (deff) relative to simple random sampling with replacement; effective sample size = n / deff."),
    "m_weighting_title": ("Gia quyền", "Weights"),
    "m_weighting_calibrated": (
        "Trọng số: {method}. Phương sai tính theo phần dư hiệu chỉnh (g-weight residual), như thiết kế "
        "postStratify()/calibrate() của gói survey của R, nên phản ánh việc hiệu chỉnh trọng số. Hiệu ứng thiết kế do "
        "gia quyền (Kish): deff = n·Σw²/(Σw)². Độ khớp với biên dân số ở phần Số phiếu và gia quyền.",
        "Weights: {method}. The variance is the calibration (g-weight residual) variance, as R's survey "
        "package computes it for postStratify()/calibrate() designs, so it reflects the calibration. Design effect "
        "of weighting (Kish): deff = n·Σw²/(Σw)². The fit to the population margins is in Responses and weighting."),
    "m_weighting": (
        "Trọng số: {method}. Trọng số được coi là cố định khi tính phương sai. Hiệu ứng thiết kế do gia quyền "
        "(Kish): deff = n·Σw²/(Σw)². Độ khớp với biên dân số ở phần Số phiếu và gia quyền.",
        "Weights: {method}. Weights are treated as fixed in the variance. Design effect of weighting (Kish): "
        "deff = n·Σw²/(Σw)². The fit to the population margins is in Responses and weighting."),
    "m_log_title": ("Nhật ký tính toán (của mô-đun phân tích, tiếng Anh)", "Computation log (from the analysis module)"),
    "m_lonely_title": ("Tầng chỉ có một PSU", "Strata with a single PSU"),
    "m_lonely_adjust": (
        "phần đóng góp của PSU duy nhất được tính so với trung bình chung (tùy chọn «adjust» của gói survey của R, "
        "thận trọng: phương sai có thể lớn hơn thực tế)",
        "its PSU is compared with the overall mean (R's survey.lonely.psu = \"adjust\"; conservative: it can "
        "overstate the variance)"),
    "m_lonely_none": (
        "Không có tầng nào chỉ có một PSU (đơn vị mẫu bậc một) trong kỳ này. Nếu có, {how}; lệnh "
        "python -m analysis indices còn cho chọn --lonely-psu remove, certainty, average hoặc fail.",
        "No stratum has a single PSU (primary sampling unit) in this period. If one had, {how}; "
        "python -m analysis indices also offers --lonely-psu remove, certainty, average or fail."),
    "m_lonely": (
        "{n} tầng chỉ có một PSU (đơn vị mẫu bậc một), nên không ước lượng được phương sai trong tầng: {names}. "
        "Cách xử lý: {how}. Lệnh python -m analysis indices còn cho chọn --lonely-psu remove, certainty, average "
        "hoặc fail (mặc định của R là báo lỗi).",
        "{n} stratum/strata with a single PSU (primary sampling unit), whose within-stratum variance cannot be "
        "estimated: {names}. Handling: {how}. python -m analysis indices also offers --lonely-psu remove, "
        "certainty, average or fail (R's default is to fail)."),
    "m_items_title": ("Đơn vị thiếu tiêu chí", "Units indexed over fewer criteria"),
    "m_items_rule": (
        "Khi không ai ở một đơn vị trả lời hợp lệ một tiêu chí (hay cả một yếu tố), chỉ số của đơn vị được tính trên "
        "các tiêu chí có câu trả lời (cột items_used so với items_expected trong tệp Excel), được đánh dấu «thiếu "
        "tiêu chí: không xếp hạng», không so với chỉ tiêu và không xếp hạng cùng các đơn vị khác (tùy chọn "
        "--missing-items drop; «fail» thì dừng với thông báo lỗi).",
        "Where nobody in a unit answered a criterion (or a whole factor) validly, the unit's index is over the "
        "criteria answered (items_used against items_expected in the workbook), flagged 'criteria missing: not "
        "ranked', not judged against the target and not ranked with the other units (--missing-items drop; "
        "'fail' stops with an error instead)."),
    "m_items_none": ("Trong kỳ này mọi đơn vị đều có đủ tiêu chí.",
                     "In this period every unit has every criterion."),
    "m_items_some": ("Trong kỳ này có {n} đơn vị như vậy: {units}.", "In this period {n} unit(s): {units}."),
    "m_items_unit": ("{unit} ({used}/{expected} tiêu chí)", "{unit} ({used} of {expected} criteria)"),
    "m_flags_title": ("Cảnh báo", "Flags"),
    "m_flags": (
        "n < 30: dưới 30 phiếu. n hiệu dụng < 30: min(n, p(1−p)/se²) dưới 30. CV > 30 %: sai số chuẩn vượt 30 % "
        "giá trị. NCHS không công bố (tiêu chuẩn của Trung tâm Thống kê Y tế Hoa Kỳ, 2017): n hiệu dụng < 30, hoặc "
        "độ rộng khoảng Korn–Graubard ≥ 30 điểm, hoặc độ rộng > 5 điểm và > 130 % giá trị. NCHS cần xem lại: "
        "bậc tự do < 8 hoặc chỉ số bằng 0 hay 100 %. Ba cảnh báo đầu và «NCHS không công bố» làm đơn vị bị coi là "
        "quá ít phiếu.",
        "n < 30: fewer than 30 responses. Effective n < 30: min(n, p(1−p)/se²) below 30. CV > 30 %: the standard "
        "error is over 30 % of the estimate. NCHS suppress (US National Center for Health Statistics standard, "
        "2017): effective n < 30, or a Korn–Graubard interval 30 points wide or more, or wider than 5 points and "
        "than 130 % of the estimate. NCHS review: fewer than 8 degrees of freedom, or an index of 0 or 100 %. "
        "n < 30, effective n < 30 and NCHS suppress make a unit 'too few responses'."),
    "m_target_title": ("So với chỉ tiêu và kỳ trước", "Target and comparison"),
    "m_target": (
        "Một chỉ số đạt chỉ tiêu khi cả khoảng tin cậy 95 % nằm ở hoặc trên chỉ tiêu, chưa đạt khi cả khoảng nằm "
        "dưới, chưa kết luận khi khoảng chứa chỉ tiêu. Thay đổi so với kỳ trước: d = P₁ − P₀, se(d) = √(se₁² + se₀²) "
        "(hai mẫu độc lập), khoảng tin cậy d ± t·se(d) với số bậc tự do nhỏ hơn.",
        "An index meets the target when its whole 95 % interval is at or above it, is below it when the whole "
        "interval is below, and is inconclusive when the interval contains it. Change from the comparison period: "
        "d = P₁ − P₀, se(d) = √(se₁² + se₀²) (independent samples), interval d ± t·se(d) on the smaller of the "
        "two degrees of freedom."),
    "m_excluded_title": ("Phiếu bị loại hoặc tạm giữ", "Excluded and held responses"),
    "m_excluded": (
        "Phiếu bị nhân viên đánh dấu loại (trùng lặp, phiếu thử, trả lời quá nhanh…) không được dùng để tính; "
        "phiếu có dấu hiệu gian lận (gửi dồn dập từ một thiết bị hay một địa chỉ, nhiều phiếu mở và gửi cùng lúc, "
        "câu trả lời giống hệt nhau lặp lại) được tạm giữ và không được dùng cho đến khi nhân viên xem xét "
        "(“held for review”). Số lượng theo lý do ở bảng dưới.",
        "Responses marked as excluded by staff (duplicates, tests, answered too fast, …) are not used; responses "
        "that look stuffed (bursts from one client or address, forms fetched and posted together, identical "
        "answers repeated) are held for review and not used until staff accept them (\u201cheld for review\u201d). "
        "The counts by reason are below."),
    "m_software_title": ("Phần mềm", "Software"),
    "m_software": ("Tính bằng mô-đun analysis của nền tảng{engine}; đối chiếu với gói survey 4.1 của R.",
                   "Computed by the platform's analysis module{engine}; checked against R's survey package 4.1."),
    "methodology_parameters": ("Tham số", "Parameters"),
    # errors
    "no_responses": ("Không có phiếu hợp lệ nào trong kỳ {period}.", "There are no valid responses in the period {period}."),
}

_FIELDS = string.Formatter()


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in _FIELDS.parse(text) if name}


@dataclass(frozen=True)
class Translator:
    """Strings and number formats of one report language."""

    lang: str

    def __post_init__(self):
        if self.lang not in LANGUAGES:
            raise ValueError(f"report language must be one of {', '.join(LANGUAGES)}, not {self.lang!r}")

    def __call__(self, key: str, **values) -> str:
        vi, en = STRINGS[key]
        text = vi if self.lang == "vi" else en
        return unicodedata.normalize("NFC", text.format(**values) if values else text)

    def text(self, value: Text | str) -> str:
        """A questionnaire or unit label in this language."""
        return unicodedata.normalize("NFC", value if isinstance(value, str) else value.get(self.lang))

    # -- numbers -------------------------------------------------------------
    def number(self, value: float | int | None, digits: int = 0) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        if round(value, digits) == 0:
            value = abs(value)          # no "−0,0"
        text = f"{value:,.{digits}f}"
        if self.lang == "vi":
            text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
        return text.replace("-", "−")

    def percent(self, proportion: float | None, digits: int = 1, sign: bool = False) -> str:
        """A proportion as a percentage: 0.8233 -> '82,3 %' (vi) / '82.3%' (en)."""
        if proportion is None or math.isnan(proportion):
            return "–"
        text = self.number(100 * proportion, digits)
        if sign and proportion > 0:
            text = "+" + text
        return f"{text}\u00a0%" if self.lang == "vi" else f"{text}%"

    def points(self, proportion: float | None, digits: int = 1) -> str:
        """A difference of proportions in percentage points, with its sign."""
        if proportion is None or math.isnan(proportion):
            return "–"
        text = self.number(100 * proportion, digits)
        return ("+" + text) if round(100 * proportion, digits) > 0 else text

    def pct_value(self, proportion: float | None, digits: int = 1) -> str:
        """A proportion as a percentage number without the sign: 0.8233 -> '82,3'."""
        if proportion is None or math.isnan(proportion):
            return "–"
        return self.number(100 * proportion, digits)

    def interval(self, low: float, high: float, digits: int = 1) -> str:
        if math.isnan(low) or math.isnan(high):
            return "–"
        return f"{self.pct_value(low, digits)} – {self.pct_value(high, digits)}"

    def date(self, value: Date | datetime) -> str:
        if isinstance(value, datetime):
            return value.strftime("%d/%m/%Y %H:%M") if self.lang == "vi" else value.strftime("%Y-%m-%d %H:%M")
        return value.strftime("%d/%m/%Y") if self.lang == "vi" else value.isoformat()

    def period(self, start: Date, end: Date) -> str:
        return f"{self.date(start)} – {self.date(end)}"

    def flags(self, flags) -> str:
        return ", ".join(self(f) for f in flags)
