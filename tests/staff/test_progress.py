"""The dashboard's picture of progress: responses per day against the pace needed to reach the units'
targets by the end of the period, with the same numbers in a table behind it."""
from __future__ import annotations

import html
import re

from .test_dashboard import fieldwork, known  # noqa: F401  (fixtures)


def _table(page: str) -> list[list[str]]:
    section = page.split('id="h-progress"', 1)[1].split("</section>", 1)[0]
    body = section.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [[" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split())
             for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)] for row in re.findall(r"<tr>(.*?)</tr>", body)]


def test_the_chart_and_its_table_show_each_day_against_the_needed_pace(client, staff, known):
    staff.as_role("staff")
    page = client.get("/staff/").get_data(as_text=True)
    assert 'role="img" aria-labelledby="progress-caption"' in page
    rows = _table(page)
    # Period 1-31 March, today the 12th: one row a day so far.
    assert [r[0] for r in rows] == [f"{d} Mar 2025" for d in range(1, 13)]
    by_day = {r[0]: r for r in rows}
    # Units with a target: quan-1 (100 on the 5th, 7 on the 10th, 3 today), quan-3 (30 on the 3rd), quan-5 (25 on the 11th).
    assert by_day["3 Mar 2025"][1] == "30" and by_day["5 Mar 2025"][1] == "100"
    assert by_day["11 Mar 2025"][1] == "25" and by_day["12 Mar 2025"][1] == "3"
    assert by_day["12 Mar 2025"][2] == "165"                      # so far: 30 + 100 + 7 + 25 + 3
    # Targets 310 + 100 + 20 = 430 over 31 days: expected by the 12th = 430 * 12 / 31 = 166.
    assert by_day["12 Mar 2025"][3] == "166" and by_day["1 Mar 2025"][3] == "14"
    caption = html.unescape(page.split('id="progress-caption"', 1)[1].split("</figcaption>", 1)[0])
    assert "13.9 a day" in caption                                 # 430 / 31
    assert "13.2 a day" in caption          # (430 - 165) / 20 days left, today included = 13.25 (rounded half-even)
    bars = re.findall(r'<rect class="day"', page)
    assert len(bars) == 12


def test_no_chart_without_targets(client, staff, db, clock, fieldwork):
    staff.as_role("staff")
    assert 'id="h-progress"' not in client.get("/staff/").get_data(as_text=True)
