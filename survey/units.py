"""Reporting units (districts, wards, ...) as data: queries and the CSV importers.

Units form a tree (province or city -> ward/commune, department, service
centre branch...) and each is valid over a period of local days
(``valid_from``/``valid_to``, inclusive, NULL for open). A response belongs to
the unit valid on its date (a trigger of migration 0006 refuses anything else).
A reform such as the one of 1 July 2025 ends the old units (``valid_to``), adds
the new ones (``valid_from``) and records which former unit each new one took
its area from (``unit_crosswalk``).

A CSV import (units, crosswalk, margins) is all or nothing: every row is checked
first, and any problem is reported by line and column before a single row is
written.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

import sqlite_utils
from .sqlite import write_transaction

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
REQUIRED_COLUMNS = ("code", "slug", "name_vi", "name_en", "kind")
AGE_BANDS = ("18-24", "25-34", "35-49", "50-59", "60+")

# The city that the demo units belong to (HCMC, province code 79) and its 2019
# census population by sex (../shared/data/README.md).
DEMO_CITY = {"code": "79", "slug": "tp-ho-chi-minh", "name_vi": "Thành phố Hồ Chí Minh",
             "name_en": "Ho Chi Minh City", "kind": "thanh_pho", "period": "",
             "population": 8993082}
DEMO_CITY_GENDER = {"male": 4381242, "female": 4611840}
DEMO_PERIOD = "2021-2025"
# The 22 district-level units of 2021 (Thu Duc city formed on 1 January 2021) until the reform.
DEMO_PERIOD_VALID = ("2021-01-01", "2025-06-30")
# The commune-level units of the 1 July 2025 reform (Cong van 1027/CTK-CSCL).
REFORM_2025 = "2025-07-01"
REFORM_PERIOD = "2025"
DEMO_PROVINCE = "79"
DEFAULT_UTC_OFFSET_MINUTES = 420


class UnitImportError(ValueError):
    """A units CSV was refused; ``problems`` lists every ``line N: column: what`` found."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:50])
        more = f"\n  … and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{source}: {len(problems)} problem(s), nothing imported:\n{shown}{more}")


@dataclass(frozen=True)
class UnitRow:
    code: str
    slug: str
    name_vi: str
    name_en: str
    kind: str
    period: str
    population: int | None
    parent: str | None
    valid_from: str | None = None
    valid_to: str | None = None


def _csv_text(path: Path) -> str:
    """A CSV file's text (UTF-8, a byte-order mark allowed); :class:`UnitImportError` when it cannot
    be read or is not UTF-8."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise UnitImportError(str(path), [f"cannot read the file: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise UnitImportError(str(path), [f"not UTF-8 text (byte {exc.start}): save the file as CSV UTF-8"]) from exc


def _csv_reader(path: Path) -> csv.DictReader:
    """A dict reader over a CSV file read by :func:`_csv_text`."""
    return csv.DictReader(io.StringIO(_csv_text(path), newline=""))


def read_units_csv(path: str | Path, period: str | None = None) -> list[UnitRow]:
    """Read and check a units CSV; raise :class:`UnitImportError` listing every bad row.

    Columns: code, slug, name_vi, name_en, kind, and optionally period, parent
    (a slug, in the file or already in the database), population (or
    population_2019), valid_from and valid_to (local days YYYY-MM-DD, inclusive).
    With ``period``, only rows of that period are read.
    """
    path = Path(path)
    problems: list[str] = []
    rows: list[UnitRow] = []
    text = _csv_text(path)
    with io.StringIO(text, newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise UnitImportError(str(path), [f"line 1: missing column(s): {', '.join(missing)}"])
        pop_column = "population" if "population" in header else "population_2019" if "population_2019" in header else None
        seen: dict[str, int] = {}
        try:
            records = list(enumerate(reader, start=2))
        except csv.Error as exc:
            raise UnitImportError(str(path), [f"not a readable CSV file: {exc}"]) from exc
        for line, rec in records:
            if None in rec:
                problems.append(f"line {line}: more cells than columns in the header")
                continue
            row_period = (rec.get("period") or "").strip()
            if period is not None and row_period != period:
                continue
            values = {c: (rec.get(c) or "").strip() for c in REQUIRED_COLUMNS}
            for column in REQUIRED_COLUMNS:
                if not values[column]:
                    problems.append(f"line {line}: column {column}: is empty")
            slug = values["slug"]
            if slug and not SLUG.match(slug):
                problems.append(f"line {line}: column slug: {slug!r} must be lower-case letters, "
                                "digits and single hyphens (e.g. quan-1)")
            if slug in seen:
                problems.append(f"line {line}: column slug: {slug!r} repeats line {seen[slug]}")
            elif slug:
                seen[slug] = line
            population = None
            raw = (rec.get(pop_column) or "").strip() if pop_column else ""
            if raw:
                try:
                    population = int(raw)
                    if population <= 0:
                        raise ValueError
                except ValueError:
                    problems.append(f"line {line}: column {pop_column}: {raw!r} is not a positive whole number")
            parent = (rec.get("parent") or "").strip() or None
            valid = {}
            for column in ("valid_from", "valid_to"):
                raw = (rec.get(column) or "").strip()
                valid[column] = raw or None
                if raw:
                    try:
                        date.fromisoformat(raw)
                        if len(raw) != 10:
                            raise ValueError
                    except ValueError:
                        problems.append(f"line {line}: column {column}: {raw!r} is not a date YYYY-MM-DD")
                        valid[column] = None
            if valid["valid_from"] and valid["valid_to"] and valid["valid_to"] < valid["valid_from"]:
                problems.append(f"line {line}: column valid_to: {valid['valid_to']} is before valid_from "
                                f"{valid['valid_from']}")
            rows.append(UnitRow(values["code"], slug, values["name_vi"], values["name_en"],
                                values["kind"], row_period, population, parent, valid["valid_from"],
                                valid["valid_to"]))
    if not rows and not problems:
        problems.append("no unit rows" + (f" for period {period!r}" if period else ""))
    if problems:
        raise UnitImportError(str(path), problems)
    return rows


def import_units(db: sqlite_utils.Database, rows: list[UnitRow], *, source: str = "units",
                 default_parent: str | None = None) -> tuple[int, int]:
    """Insert or update ``rows`` (matched by slug) in one transaction; return (added, updated)."""
    known = {r["slug"]: r for r in db.query("SELECT id, slug, code, period FROM units")}
    known_codes = {(r["code"], r["period"]): r["slug"] for r in known.values()}
    in_file = {r.slug for r in rows}
    problems = []
    codes: dict[tuple[str, str], str] = {}
    for row in rows:
        other = codes.setdefault((row.code, row.period), row.slug)
        if other != row.slug:
            problems.append(f"unit {row.slug}: column code: {row.code} (period {row.period!r}) "
                            f"is also given to unit {other!r} in the same file")
    for index, row in enumerate(rows):
        parent = row.parent or default_parent
        if parent and parent not in known and parent not in in_file:
            problems.append(f"unit {row.slug}: column parent: unknown unit {parent!r}")
        other = known_codes.get((row.code, row.period))
        if other is not None and other != row.slug:
            problems.append(f"unit {row.slug}: column code: {row.code} (period {row.period!r}) "
                            f"already belongs to unit {other!r}")
    if problems:
        raise UnitImportError(source, problems)
    periods = "valid_from" in {c.name for c in db["units"].columns}     # migration 0006 applied
    if not periods and any(r.valid_from or r.valid_to for r in rows):
        raise UnitImportError(source, ["the database predates unit periods: run `flask --app survey init-db` first"])
    added = updated = 0
    with write_transaction(db):
        for row in rows:
            values = {"code": row.code, "slug": row.slug, "name_vi": row.name_vi,
                      "name_en": row.name_en, "kind": row.kind, "period": row.period,
                      "population": row.population, "valid_from": row.valid_from, "valid_to": row.valid_to}
            if not periods:
                del values["valid_from"], values["valid_to"]
            if row.slug in known:
                for column in ("population", "valid_from", "valid_to"):
                    if values.get(column, 0) is None:  # an empty cell keeps what is stored
                        values.pop(column)
                sets = ", ".join(f"{k} = :{k}" for k in values)
                db.execute(f"UPDATE units SET {sets} WHERE slug = :slug", values)
                updated += 1
            else:
                db.execute(f"INSERT INTO units ({', '.join(values)}) VALUES ({', '.join(':' + k for k in values)})",
                           values)
                added += 1
        for row in rows:
            parent = row.parent or default_parent
            if parent:
                db.execute("UPDATE units SET parent_id = (SELECT id FROM units WHERE slug = ?) WHERE slug = ?",
                           [parent, row.slug])
    return added, updated


def set_population(db: sqlite_utils.Database, slug: str, dimension: str, counts: dict[str, float]) -> None:
    unit_id = db.execute("SELECT id FROM units WHERE slug = ?", [slug]).fetchone()[0]
    for category, population in counts.items():
        db.execute("INSERT INTO unit_population (unit_id, dimension, category, population) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (unit_id, dimension, category) DO UPDATE SET population = excluded.population",
                   [unit_id, dimension, category, population])


def age_bands_from_census(rec: dict[str, str]) -> dict[str, float]:
    """The questionnaire's age bands from 2019 census five-year groups.

    The census has no 18-19 group: 18-24 takes two fifths of 15-19 (ages 18 and 19,
    assuming an even spread within the group).
    """
    g = {k: float(v) for k, v in rec.items() if k.startswith("age_")}
    return {
        "18-24": 0.4 * g["age_15_19"] + g["age_20_24"],
        "25-34": g["age_25_29"] + g["age_30_34"],
        "35-49": g["age_35_39"] + g["age_40_44"] + g["age_45_49"],
        "50-59": g["age_50_54"] + g["age_55_59"],
        "60+": sum(g[k] for k in ("age_60_64", "age_65_69", "age_70_74", "age_75_79", "age_80_84", "age_85plus")),
    }


def _data_file(name: str):
    return resources.as_file(resources.files("survey") / "data" / name)


def load_demo(db: sqlite_utils.Database, *, reform: bool = False,
              progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """HCMC and its 22 district-level units of 2021-2025 with census margins.

    With ``reform`` (what ``init-db --demo`` loads): the districts end on
    2025-06-30 and the city's 168 wards/communes of the 1 July 2025 reform are
    loaded with the crosswalk from the districts. Without it: the 22 districts
    alone, open-ended (the pre-2025 demo, kept for tests that need a small fixed
    set of units). Returns (added, already present) over all units loaded.
    """
    with _data_file("hcmc_units.csv") as units_csv:
        rows = read_units_csv(units_csv, period=DEMO_PERIOD)
    if reform:
        rows = [UnitRow(**{**r.__dict__, "valid_from": DEMO_PERIOD_VALID[0], "valid_to": DEMO_PERIOD_VALID[1]})
                for r in rows]
    city = UnitRow(**{k: v for k, v in DEMO_CITY.items()}, parent=None)
    with write_transaction(db):
        added, updated = import_units(db, [city, *rows], source="demo units", default_parent=None)
        db.execute("UPDATE units SET parent_id = (SELECT id FROM units WHERE slug = ?) WHERE slug != ? "
                   "AND parent_id IS NULL AND period = ?", [city.slug, city.slug, DEMO_PERIOD])
        set_population(db, city.slug, "gender", DEMO_CITY_GENDER)
        with _data_file("hcmc_units_age_2019.csv") as age_csv, \
                open(age_csv, encoding="utf-8", newline="") as handle:
            for rec in csv.DictReader(handle):
                if rec["period"] == DEMO_PERIOD:
                    set_population(db, rec["slug"], "age_band", age_bands_from_census(rec))
        if reform:
            more, again = load_province(db, DEMO_PROVINCE, progress=progress)
            added, updated = added + more, updated + again - 1    # the city was counted twice
            with _data_file("hcmc_crosswalk_2025.csv") as crosswalk_csv:
                import_crosswalk(db, read_crosswalk_csv(crosswalk_csv), source="demo crosswalk")
    return added, updated


# --- Provinces and communes of the 1 July 2025 reform ---------------------------------------

def slugify(text: str) -> str:
    """ASCII, lower-case, hyphenated (diacritics stripped, đ -> d): ``Thành phố Hà Nội`` -> ``thanh-pho-ha-noi``."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower().replace("'", "")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def provinces() -> list[dict]:
    """The 34 provinces and centrally-governed cities since 1 July 2025 (code, name_vi, kind)."""
    with _data_file("vn_provinces_2025.csv") as path, open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def province_slug(province: dict) -> str:
    return DEMO_CITY["slug"] if province["code"] == DEMO_CITY["code"] else slugify(province["name_vi"])


def province_name_en(province: dict) -> str:
    if province["code"] == DEMO_CITY["code"]:
        return DEMO_CITY["name_en"]
    name = re.sub(r"^(Tỉnh|Thành phố) ", "", province["name_vi"])
    plain = " ".join(w.capitalize() for w in slugify(name).split("-"))
    return f"{plain} City" if province["kind"] == "thanh_pho" else f"{plain} Province"


def load_province(db: sqlite_utils.Database, code: str, *,
                  progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Province ``code`` (e.g. ``01``) and its communes, valid from 2025-07-01; returns (added, updated).

    A commune whose slug is already taken by a unit of another province gets its
    code appended (``xa-tan-thanh-27826``), so several provinces can share a database.
    """
    known = {p["code"]: p for p in provinces()}
    if code not in known:
        raise UnitImportError("--province", [f"unknown province code {code!r}; the 34 codes are "
                                             f"{', '.join(sorted(known))} (e.g. 01 Hà Nội, 79 Hồ Chí Minh)"])
    province = known[code]
    slug = province_slug(province)
    taken = {r["slug"]: r["code"] for r in db.query("SELECT slug, code FROM units")}
    rows = []
    with _data_file("vn_communes_2025.csv") as path, open(path, encoding="utf-8", newline="") as handle:
        for rec in csv.DictReader(handle):
            if rec["province_code"] != code:
                continue
            unit_slug = rec["slug"]
            if taken.get(unit_slug, rec["code"]) != rec["code"]:
                unit_slug = f"{unit_slug}-{rec['code']}"
            rows.append(UnitRow(rec["code"], unit_slug, rec["name_vi"], rec["name_en"], rec["kind"],
                                REFORM_PERIOD, None, slug, REFORM_2025, None))
    head = UnitRow(code, slug, province["name_vi"], province_name_en(province), province["kind"], "", None, None)
    with write_transaction(db):
        added, updated = import_units(db, [head, *rows], source=f"province {code}")
    if progress:
        progress(len(rows) + 1)
    return added, updated


# --- Crosswalk across a reform ------------------------------------------------------------------

CROSSWALK_COLUMNS = ("old_slug", "old_name_vi", "old_name_en", "new_slug", "relation", "main")


@dataclass(frozen=True)
class CrosswalkRow:
    old_slug: str
    old_name_vi: str
    old_name_en: str
    new_slug: str
    relation: str
    main: bool


def read_crosswalk_csv(path: str | Path) -> list[CrosswalkRow]:
    """Read and check a crosswalk CSV (one row per former unit -> new unit link).

    Columns: old_slug, old_name_vi, old_name_en, new_slug (or new_code), relation
    (``full``: the new unit lies wholly within the former unit; ``partial``: only
    part of its area came from it), main (1 on the one former unit each new unit
    is grouped under).
    """
    path = Path(path)
    reader = _csv_reader(path)
    header = reader.fieldnames or []
    need = [c for c in CROSSWALK_COLUMNS if c not in header and not (c == "new_slug" and "new_code" in header)]
    if need:
        raise UnitImportError(str(path), [f"line 1: missing column(s): {', '.join(need)}"])
    rows, problems, seen = [], [], {}
    for line, rec in enumerate(reader, start=2):
        if None in rec:
            problems.append(f"line {line}: more cells than columns in the header")
            continue
        v = {k: (rec.get(k) or "").strip() for k in (*CROSSWALK_COLUMNS, "new_code")}
        new = v["new_slug"] or (f"code:{v['new_code']}" if v["new_code"] else "")
        for column in ("old_slug", "old_name_vi", "old_name_en"):
            if not v[column]:
                problems.append(f"line {line}: column {column}: is empty")
        if not new:
            problems.append(f"line {line}: column new_slug: is empty")
        if v["relation"] not in ("full", "partial"):
            problems.append(f"line {line}: column relation: {v['relation']!r} must be full or partial")
        if v["main"] not in ("0", "1", ""):
            problems.append(f"line {line}: column main: {v['main']!r} must be 1 or 0")
        key = (v["old_slug"], new)
        if key in seen:
            problems.append(f"line {line}: the link {v['old_slug']} -> {new} repeats line {seen[key]}")
        seen[key] = line
        rows.append(CrosswalkRow(v["old_slug"], v["old_name_vi"], v["old_name_en"], new, v["relation"],
                                 v["main"] == "1"))
    mains: dict[str, int] = {}
    for r in rows:
        mains[r.new_slug] = mains.get(r.new_slug, 0) + r.main
    problems += [f"new unit {new}: {n} links have main = 1; exactly one former unit groups a new unit"
                 for new, n in mains.items() if n > 1]
    problems += [f"new unit {new}: no link has main = 1; mark the former unit it is grouped under"
                 for new, n in mains.items() if n == 0]
    if not rows and not problems:
        problems.append("no crosswalk rows")
    if problems:
        raise UnitImportError(str(path), problems)
    return rows


def import_crosswalk(db: sqlite_utils.Database, rows: list[CrosswalkRow], *, source: str = "crosswalk") -> int:
    """Replace the links of the new units in ``rows`` in one transaction; return how many links were written.

    Every new unit must exist (by slug, or ``code:NNNNN`` for its code) and start
    after every former unit that is a unit of this installation has ended.
    """
    units = {r["slug"]: r for r in db.query("SELECT id, slug, code, valid_from, valid_to FROM units")}
    by_code: dict[str, list[dict]] = {}
    for u in units.values():
        by_code.setdefault(u["code"], []).append(u)
    problems, resolved = [], []
    for r in rows:
        if r.new_slug.startswith("code:"):
            found = by_code.get(r.new_slug[5:], [])
            new = found[0] if len(found) == 1 else None
        else:
            new = units.get(r.new_slug)
        if new is None:
            problems.append(f"link {r.old_slug} -> {r.new_slug}: no such new unit (import the new units first)")
            continue
        old = units.get(r.old_slug)
        if old is not None and old["valid_to"] and new["valid_from"] and new["valid_from"] <= old["valid_to"]:
            problems.append(f"link {r.old_slug} -> {new['slug']}: the new unit starts ({new['valid_from']}) before "
                            f"the former one ends ({old['valid_to']})")
        if old is not None and new["valid_to"] and old["valid_from"] and new["valid_to"] < old["valid_from"]:
            problems.append(f"link {r.old_slug} -> {new['slug']}: the new unit ends ({new['valid_to']}) before "
                            f"the former one starts ({old['valid_from']})")
        if old is not None and old["id"] == new["id"]:
            problems.append(f"link {r.old_slug} -> {new['slug']}: a unit cannot succeed itself")
        resolved.append((r, new))
    if problems:
        raise UnitImportError(source, problems)
    with write_transaction(db):
        for new_id in {new["id"] for _, new in resolved}:
            db.execute("DELETE FROM unit_crosswalk WHERE new_unit_id = ?", [new_id])
        for r, new in resolved:
            db.execute("INSERT INTO unit_crosswalk (old_slug, old_name_vi, old_name_en, new_unit_id, relation, main, "
                       "source) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [r.old_slug, r.old_name_vi, r.old_name_en, new["id"], r.relation, int(r.main), source])
    return len(resolved)


def successors(db: sqlite_utils.Database, old_slug: str) -> list[dict]:
    """The units that took over ``old_slug``'s area (``relation`` and ``main`` of each link), by name."""
    return list(db.query(
        "SELECT u.*, x.relation, x.main FROM unit_crosswalk x JOIN units u ON u.id = x.new_unit_id "
        "WHERE x.old_slug = ? ORDER BY x.main DESC, u.name_vi", [old_slug]))


def former_groups(db: sqlite_utils.Database) -> list[dict]:
    """New units grouped by the former unit they are grouped under (``main`` links).

    Each group: ``old_slug``, ``old_name_vi``, ``old_name_en``, ``old_unit`` (the
    former unit's row when it is a unit here, else None), ``units`` (new units),
    ``straddling`` (new units anywhere that took only part of their area from it,
    the partial-transfer caveat).
    """
    groups: dict[str, dict] = {}
    for r in db.query("SELECT x.old_slug, x.old_name_vi, x.old_name_en, x.relation, x.main, u.* "
                      "FROM unit_crosswalk x JOIN units u ON u.id = x.new_unit_id ORDER BY u.name_vi"):
        g = groups.setdefault(r["old_slug"], {"old_slug": r["old_slug"], "old_name_vi": r["old_name_vi"],
                                              "old_name_en": r["old_name_en"], "units": [], "straddling": []})
        if r["main"]:
            g["units"].append(r)
        if r["relation"] == "partial":
            g["straddling"].append(r)
    old = {u["slug"]: u for u in db.query(f"SELECT * FROM units WHERE slug IN "
                                          f"({', '.join('?' for _ in groups)})", list(groups))} if groups else {}
    out = []
    for g in groups.values():
        g["old_unit"] = old.get(g["old_slug"])
        out.append(g)
    out.sort(key=lambda g: (g["old_unit"] is None, g["old_unit"]["code"] if g["old_unit"] else "", g["old_slug"]))
    return out


# --- Margins -------------------------------------------------------------------------------------

MARGIN_COLUMNS = ("unit", "dimension", "category", "population")


def import_margins(db: sqlite_utils.Database, path: str | Path) -> tuple[int, int]:
    """Population counts per unit and group from a CSV; returns (units, counts) written.

    Columns: unit (slug), dimension (``age_band``, ``gender``... or ``total``,
    which sets the unit's population for design weights), category (the
    questionnaire's option code; ``all`` for ``total``), population (> 0). The
    counts of every (unit, dimension) in the file replace the stored ones; a
    unit or dimension not in the file is left as it is. All or nothing.
    """
    path = Path(path)
    reader = _csv_reader(path)
    missing = [c for c in MARGIN_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise UnitImportError(str(path), [f"line 1: missing column(s): {', '.join(missing)}"])
    units = {r["slug"]: r["id"] for r in db.query("SELECT id, slug FROM units")}
    problems, counts, seen = [], [], {}
    for line, rec in enumerate(reader, start=2):
        if None in rec:
            problems.append(f"line {line}: more cells than columns in the header")
            continue
        v = {k: (rec.get(k) or "").strip() for k in MARGIN_COLUMNS}
        if v["unit"] not in units:
            problems.append(f"line {line}: column unit: unknown unit {v['unit']!r}")
        for column in ("dimension", "category"):
            if not v[column]:
                problems.append(f"line {line}: column {column}: is empty")
        if v["dimension"] == "total" and v["category"] != "all":
            problems.append(f"line {line}: column category: dimension total takes category all")
        try:
            value = float(v["population"])
            if not (value > 0 and value < 1e10):
                raise ValueError
        except ValueError:
            problems.append(f"line {line}: column population: {v['population']!r} is not a number > 0")
            continue
        key = (v["unit"], v["dimension"], v["category"])
        if key in seen:
            problems.append(f"line {line}: {v['unit']} / {v['dimension']} / {v['category']} repeats line {seen[key]}")
        seen[key] = line
        counts.append((v["unit"], v["dimension"], v["category"], value))
    if not counts and not problems:
        problems.append("no rows")
    if problems:
        raise UnitImportError(str(path), problems)
    with write_transaction(db):
        for unit, dimension in {(c[0], c[1]) for c in counts if c[1] != "total"}:
            db.execute("DELETE FROM unit_population WHERE unit_id = ? AND dimension = ?", [units[unit], dimension])
        for unit, dimension, category, value in counts:
            if dimension == "total":
                db.execute("UPDATE units SET population = ? WHERE id = ?", [round(value), units[unit]])
            else:
                db.execute("INSERT INTO unit_population (unit_id, dimension, category, population) VALUES (?, ?, ?, ?)",
                           [units[unit], dimension, category, value])
    return len({c[0] for c in counts}), len(counts)


# --- Queries -------------------------------------------------------------------------------------

def utc_offset_minutes(db: sqlite_utils.Database) -> int:
    """The city's UTC offset the summary tables were built with (TIMEZONE), else Vietnam's."""
    try:
        row = db.execute("SELECT utc_offset_minutes FROM summary_config WHERE id = 1").fetchone()
    except Exception:  # noqa: BLE001 - a database without the staff tables
        row = None
    return row[0] if row else DEFAULT_UTC_OFFSET_MINUTES


def local_today(db: sqlite_utils.Database) -> date:
    return (datetime.now(timezone.utc) + timedelta(minutes=utc_offset_minutes(db))).date()


def valid_on(unit: dict, day: date | str) -> bool:
    """Whether ``unit`` (a row) is valid on the local day ``day``."""
    day = day.isoformat() if isinstance(day, date) else day
    return (unit.get("valid_from") or "0000") <= day <= (unit.get("valid_to") or "9999")


_VALID_ON = "(u.valid_from IS NULL OR u.valid_from <= :day) AND (u.valid_to IS NULL OR u.valid_to >= :day)"
_CHILD_VALID_ON = "(c.valid_from IS NULL OR c.valid_from <= :day) AND (c.valid_to IS NULL OR c.valid_to >= :day)"


def leaf_units(db: sqlite_utils.Database, on: date | None = None) -> list[dict]:
    """Units that responses dated ``on`` (default: today, local) can belong to, by code and name.

    Active, valid on that day, and without active children valid on that day.
    Each row also carries ``parent_slug``, ``parent_name_vi``, ``parent_name_en``.
    """
    day = (on or local_today(db)).isoformat()
    return list(db.query(
        "SELECT u.*, p.slug AS parent_slug, p.name_vi AS parent_name_vi, p.name_en AS parent_name_en "
        f"FROM units u LEFT JOIN units p ON p.id = u.parent_id WHERE u.active = 1 AND {_VALID_ON} AND NOT EXISTS "
        f"(SELECT 1 FROM units c WHERE c.parent_id = u.id AND c.active = 1 AND {_CHILD_VALID_ON}) "
        "ORDER BY u.code, u.name_vi", {"day": day}))


def by_slug(db: sqlite_utils.Database, slug: str) -> dict | None:
    rows = list(db.query("SELECT * FROM units WHERE slug = ? AND active = 1", [slug]))
    return rows[0] if rows else None


def by_id(db: sqlite_utils.Database, unit_id: int) -> dict | None:
    rows = list(db.query("SELECT * FROM units WHERE id = ?", [unit_id]))
    return rows[0] if rows else None


def responses_after_end(db: sqlite_utils.Database) -> int:
    """Responses dated (local day) outside their unit's validity: kept as they are, reported by init-db."""
    offset = utc_offset_minutes(db)
    return db.execute(
        "SELECT count(*) FROM responses r JOIN units u ON u.id = r.unit_id WHERE u.valid_to IS NOT NULL AND "
        f"r.submitted_at >= strftime('%Y-%m-%dT%H:%M:%SZ', u.valid_to, '+1 day', '{-offset:+d} minutes')"
    ).fetchone()[0]


@dataclass(frozen=True)
class UnitPage:
    """One page of a long unit list, after an accent-insensitive search (see :func:`page_of`)."""
    units: list[dict]
    total: int
    page: int
    pages: int
    query: str


def fold(text: str | None) -> str:
    """Lower case ASCII without diacritics (đ -> d), words joined by hyphens: 'Tân Định' -> 'tan-dinh'."""
    return slugify(text or "")


def page_of(units: list[dict], query: str = "", page: int = 1, per_page: int = 100) -> UnitPage:
    """The units whose Vietnamese or English name or slug contains ``query`` (case and accents
    ignored), page ``page`` (1-based, clamped) of ``per_page``."""
    query = (query or "").strip()[:80]
    wanted = fold(query)
    if wanted:
        units = [u for u in units if wanted in fold(u["name_vi"]) or wanted in fold(u["name_en"]) or wanted in u["slug"]]
    pages = max(1, -(-len(units) // per_page))
    page = min(max(page, 1), pages)
    return UnitPage(units[(page - 1) * per_page:page * per_page], len(units), page, pages, query)


def page_number(text: str | None) -> int:
    text = (text or "1").strip()
    from .numbers import whole_number

    return whole_number(text, digits=6) or 1
def leaf_by_slug(db: sqlite_utils.Database, slug: str) -> dict | None:
    """The active unit ``slug`` if responses can belong to it today (valid, no active children valid), else None."""
    rows = list(db.query(
        f"SELECT u.* FROM units u WHERE u.slug = :slug AND u.active = 1 AND {_VALID_ON} AND NOT EXISTS "
        f"(SELECT 1 FROM units c WHERE c.parent_id = u.id AND c.active = 1 AND {_CHILD_VALID_ON})",
        {"slug": slug, "day": local_today(db).isoformat()}))
    return rows[0] if rows else None
