"""Reporting units (districts, wards, ...) as data: queries and the CSV importer.

A CSV import is all or nothing: every row is checked first, and any problem is
reported by line and column before a single row is written.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
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


def read_units_csv(path: str | Path, period: str | None = None) -> list[UnitRow]:
    """Read and check a units CSV; raise :class:`UnitImportError` listing every bad row.

    Columns: code, slug, name_vi, name_en, kind, and optionally period, parent
    (a slug, in the file or already in the database) and population (or
    population_2019). With ``period``, only rows of that period are read.
    """
    path = Path(path)
    problems: list[str] = []
    rows: list[UnitRow] = []
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise UnitImportError(str(path), [f"cannot read the file: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise UnitImportError(str(path), [f"not UTF-8 text (byte {exc.start}): save the file as CSV UTF-8"]) from exc
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
            rows.append(UnitRow(values["code"], slug, values["name_vi"], values["name_en"],
                                values["kind"], row_period, population, parent))
    if not rows and not problems:
        problems.append("no unit rows" + (f" for period {period!r}" if period else ""))
    if problems:
        raise UnitImportError(str(path), problems)
    return rows


def import_units(db: sqlite_utils.Database, rows: list[UnitRow], *, source: str = "units",
                 default_parent: str | None = None) -> tuple[int, int]:
    """Insert or update ``rows`` (matched by slug) in one transaction; return (added, updated)."""
    known = {r["slug"]: r for r in db.query("SELECT id, slug, code, period FROM units")}
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
        for other in known.values():
            if other["code"] == row.code and other["period"] == row.period and other["slug"] != row.slug:
                problems.append(f"unit {row.slug}: column code: {row.code} (period {row.period!r}) "
                                f"already belongs to unit {other['slug']!r}")
    if problems:
        raise UnitImportError(source, problems)
    added = updated = 0
    with write_transaction(db):
        for row in rows:
            values = {"code": row.code, "slug": row.slug, "name_vi": row.name_vi,
                      "name_en": row.name_en, "kind": row.kind, "period": row.period,
                      "population": row.population}
            if row.slug in known:
                sets = ", ".join(f"{k} = :{k}" for k in values)
                db.execute(f"UPDATE units SET {sets} WHERE slug = :slug", values)
                updated += 1
            else:
                db.execute("INSERT INTO units (code, slug, name_vi, name_en, kind, period, population) "
                           "VALUES (:code, :slug, :name_vi, :name_en, :kind, :period, :population)", values)
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


def load_demo(db: sqlite_utils.Database) -> tuple[int, int]:
    """HCMC and its 22 district-level units of 2021-2025 with census margins."""
    data = resources.files("survey") / "data"
    with resources.as_file(data / "hcmc_units.csv") as units_csv:
        rows = read_units_csv(units_csv, period=DEMO_PERIOD)
    city = UnitRow(**{k: v for k, v in DEMO_CITY.items()}, parent=None)
    with write_transaction(db):
        result = import_units(db, [city, *rows], source="demo units", default_parent=None)
        db.execute("UPDATE units SET parent_id = (SELECT id FROM units WHERE slug = ?) WHERE slug != ? "
                   "AND parent_id IS NULL AND period = ?", [city.slug, city.slug, DEMO_PERIOD])
        set_population(db, city.slug, "gender", DEMO_CITY_GENDER)
        with resources.as_file(data / "hcmc_units_age_2019.csv") as age_csv, \
                open(age_csv, encoding="utf-8", newline="") as handle:
            for rec in csv.DictReader(handle):
                if rec["period"] == DEMO_PERIOD:
                    set_population(db, rec["slug"], "age_band", age_bands_from_census(rec))
    return result


def leaf_units(db: sqlite_utils.Database) -> list[dict]:
    """Active units that responses can belong to (those without active children), by name."""
    return list(db.query(
        "SELECT u.* FROM units u WHERE u.active = 1 AND NOT EXISTS "
        "(SELECT 1 FROM units c WHERE c.parent_id = u.id AND c.active = 1) ORDER BY u.code, u.name_vi"))


def by_slug(db: sqlite_utils.Database, slug: str) -> dict | None:
    rows = list(db.query("SELECT * FROM units WHERE slug = ? AND active = 1", [slug]))
    return rows[0] if rows else None


def by_id(db: sqlite_utils.Database, unit_id: int) -> dict | None:
    rows = list(db.query("SELECT * FROM units WHERE id = ?", [unit_id]))
    return rows[0] if rows else None


def leaf_by_slug(db: sqlite_utils.Database, slug: str) -> dict | None:
    """The active unit ``slug`` if responses can belong to it (no active children), else None."""
    rows = list(db.query(
        "SELECT u.* FROM units u WHERE u.slug = ? AND u.active = 1 AND NOT EXISTS "
        "(SELECT 1 FROM units c WHERE c.parent_id = u.id AND c.active = 1)", [slug]))
    return rows[0] if rows else None
