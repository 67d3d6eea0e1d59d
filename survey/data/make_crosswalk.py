"""Build ``hcmc_crosswalk_2025.csv`` (former district -> new unit) from the reference tables.

Run once by a maintainer; the product reads only the CSV it writes::

    python survey/data/make_crosswalk.py ../shared/data/units-2025 > survey/data/hcmc_crosswalk_2025.csv

Input: ``hcmc_units_2025.csv`` (each of the 168 units with its ``former_district``) and the
README's table of the 17 units that draw on more than one former district. Output, one row
per (former district, new unit) link:

* ``relation`` ``full``: the new unit lies wholly within the former district (every
  old ward it was formed from belonged to that district); ``partial``: only part of
  the new unit's area came from it (the unit straddles the former boundary).
* ``main`` 1 on the link to the district the new unit is grouped under (its
  ``former_district``: the one that contributed most, see the reference README).
"""
from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

# Former districts outside the pre-2025 city (the demo has no units or responses for them):
# names for the grouping labels. Long Đất was formed in 2024 from Long Điền and Đất Đỏ.
OUTSIDE = {
    "binh-duong/huyen-bac-tan-uyen": ("Huyện Bắc Tân Uyên", "Bac Tan Uyen District"),
    "binh-duong/huyen-bau-bang": ("Huyện Bàu Bàng", "Bau Bang District"),
    "binh-duong/huyen-dau-tieng": ("Huyện Dầu Tiếng", "Dau Tieng District"),
    "binh-duong/huyen-phu-giao": ("Huyện Phú Giáo", "Phu Giao District"),
    "binh-duong/thanh-pho-ben-cat": ("Thành phố Bến Cát", "Ben Cat City"),
    "binh-duong/thanh-pho-di-an": ("Thành phố Dĩ An", "Di An City"),
    "binh-duong/thanh-pho-tan-uyen": ("Thành phố Tân Uyên", "Tan Uyen City"),
    "binh-duong/thanh-pho-thu-dau-mot": ("Thành phố Thủ Dầu Một", "Thu Dau Mot City"),
    "binh-duong/thanh-pho-thuan-an": ("Thành phố Thuận An", "Thuan An City"),
    "ba-ria-vung-tau/huyen-chau-duc": ("Huyện Châu Đức", "Chau Duc District"),
    "ba-ria-vung-tau/huyen-con-dao": ("Huyện Côn Đảo", "Con Dao District"),
    "ba-ria-vung-tau/huyen-long-dat": ("Huyện Long Đất", "Long Dat District"),
    "ba-ria-vung-tau/huyen-xuyen-moc": ("Huyện Xuyên Mộc", "Xuyen Moc District"),
    "ba-ria-vung-tau/thanh-pho-ba-ria": ("Thành phố Bà Rịa", "Ba Ria City"),
    "ba-ria-vung-tau/thanh-pho-phu-my": ("Thành phố Phú Mỹ", "Phu My City"),
    "ba-ria-vung-tau/thanh-pho-vung-tau": ("Thành phố Vũng Tàu", "Vung Tau City"),
}
PROVINCE = {"binh-duong": ("Bình Dương", "Binh Duong"), "ba-ria-vung-tau": ("Bà Rịa – Vũng Tàu", "Ba Ria – Vung Tau")}


def main(folder: str) -> None:
    folder = Path(folder)
    units = list(csv.DictReader(open(folder / "hcmc_units_2025.csv", encoding="utf-8", newline="")))
    districts = {r["slug"]: r for r in csv.DictReader(open(folder.parent / "hcmc_units.csv", encoding="utf-8",
                                                              newline="")) if r["period"] == "2021-2025"}
    straddling: dict[str, list[str]] = {}
    for line in (folder / "README.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"\| (\d{5}) \| [^|]+ \| `([^`]+)`[^|]* \| (.+) \|$", line)
        if m:
            found = re.findall(r"\[([^\]]+)\]", m.group(3))
            straddling[m.group(1)] = list(dict.fromkeys(found))
    if len(straddling) != 17:
        sys.exit(f"expected the README's table of 17 straddling units, found {len(straddling)}")

    def names(key: str) -> tuple[str, str]:
        if key in districts:
            return districts[key]["name_vi"], districts[key]["name_en"]
        vi, en = OUTSIDE[key]
        pvi, pen = PROVINCE[key.split("/")[0]]
        return f"{vi} ({pvi})", f"{en} ({pen})"

    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["old_slug", "old_name_vi", "old_name_en", "new_code", "new_slug", "relation", "main"])
    for u in units:
        main_key = u["former_district"]
        keys = straddling.get(u["code"], [main_key])
        if main_key not in keys:
            sys.exit(f"{u['code']}: former_district {main_key} not among {keys}")
        relation = "full" if len(keys) == 1 else "partial"
        for key in [main_key] + [k for k in keys if k != main_key]:
            vi, en = names(key)
            out.writerow([key, vi, en, u["code"], u["slug"], relation, int(key == main_key)])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/units-2025")
