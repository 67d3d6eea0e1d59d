"""The unit picker's order and filter: natural, Vietnamese-collated, accent-insensitive.

``picker_rows(units, lang, query)`` is the one entry point: it takes unit rows
(dicts with ``name_vi`` and ``name_en``, e.g. from :func:`survey.units.leaf_units`)
and returns those matching ``query``, in the order a citizen looks for them:

* numbered units first, by number (Quận 1, Quận 2, … Quận 12: not 1, 10, 11, 12, 2),
* then by name without its kind word (Quận, Huyện, Phường, Xã, District, Ward …),
  in Vietnamese dictionary order (a ă â b c d đ e ê … with the tones as a tie-break),
* a query matches the name in either language with accents, case and "đ" ignored
  ("tan binh" finds "Tân Bình", "quan 7" and "district 7" find Quận 7); rows where the
  query is a run of whole words of the name come first.

Keys are computed once per unit row and name (cached), so sorting and filtering
3,000 units costs a few milliseconds. Grouping (e.g. wards under their parent
unit) can be built on top: sort with :func:`sort_key` inside each group.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache

# Vietnamese letters in dictionary order; letters not listed (f, j, w, z, other scripts) follow
# their Latin neighbours by code point.
_ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
_RANK = {ch: i for i, ch in enumerate(_ALPHABET)}
# Tone marks (combining) in dictionary order: none, huyền, hỏi, ngã, sắc, nặng.
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}
# The letter-forming marks that make a new letter (ă â ê ô ơ ư).
_LETTER_MARKS = {"\u0306", "\u0302", "\u031b"}
_TOKEN = re.compile(r"\d+|[^\W\d_]+")
# Words that say what kind of unit it is, not which one (the start or end of a name).
KIND_WORDS = ("thành phố", "thị xã", "thị trấn", "đặc khu", "quận", "huyện", "phường", "xã",
              "city", "district", "town", "ward", "commune", "township", "special zone")
_KIND = re.compile(r"^(?:%s)\s+|\s+(?:%s)$" % ("|".join(KIND_WORDS), "|".join(KIND_WORDS)), re.IGNORECASE)


def fold(text: str) -> str:
    """Lower case without accents, "đ" as "d": what a filter compares ("Tân Bình" -> "tan binh")."""
    decomposed = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=65536)
def _letters(word: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A word's letters as (primary ranks, tone ranks) in Vietnamese dictionary order."""
    primary: list[int] = []
    tones: list[int] = []
    for base in unicodedata.normalize("NFD", word.casefold()):
        if base in _LETTER_MARKS and primary:
            # a, e, o, u + breve / circumflex / horn: the next letter in the alphabet
            previous = _ALPHABET[primary[-1]] if primary[-1] < len(_ALPHABET) else ""
            composed = unicodedata.normalize("NFC", previous + base)
            if composed in _RANK:
                primary[-1] = _RANK[composed]
            continue
        if base in _TONES:
            tones.append(_TONES[base])
            continue
        if unicodedata.combining(base):
            continue
        primary.append(_RANK.get(base, len(_ALPHABET) + ord(base)))
    return tuple(primary), tuple(tones)


def collation_key(text: str) -> tuple:
    """Vietnamese dictionary order with numbers compared as numbers ("2" before "10")."""
    primary: list[tuple] = []
    secondary: list[tuple] = []
    for token in _TOKEN.findall(text):
        if token.isdigit():
            primary.append((0, int(token), ()))
        else:
            letters, tones = _letters(token)
            primary.append((1, 0, letters))
            secondary.append(tones)
    return tuple(primary), tuple(secondary), text


def bare_name(name: str) -> str:
    """The name without its kind word: "Quận Tân Bình" -> "Tân Bình", "Binh Chanh District" -> "Binh Chanh"."""
    bare = _KIND.sub("", name.strip())
    return bare or name


@lru_cache(maxsize=16384)
def sort_key(name: str) -> tuple:
    """Numbered units first by number, then the rest by name without the kind word."""
    bare = bare_name(name)
    number = bare if bare.isdigit() else None
    return (0, int(number), collation_key(name)) if number else (1, 0, collation_key(bare), collation_key(name))


@lru_cache(maxsize=16384)
def _folded(name_vi: str, name_en: str) -> tuple[tuple[str, str], ...]:
    """Each name folded, and as " word word " for whole-word matching."""
    out = []
    for name in (name_vi, name_en):
        folded = fold(name)
        out.append((folded, f" {' '.join(_TOKEN.findall(folded))} "))
    return tuple(out)


def display_name(unit: Mapping, lang: str) -> str:
    return unit["name_en"] if lang == "en" else unit["name_vi"]


def matches(unit: Mapping, query: str) -> int | None:
    """None when ``unit`` does not match the (folded) ``query``; 0 for a whole-word run, 1 otherwise."""
    if not query:
        return 1
    best = None
    phrase, words = f" {query} ", query.split()
    for name, padded in _folded(unit["name_vi"], unit["name_en"]):
        if phrase in padded:
            return 0
        if best is None and all(word in name for word in words):
            best = 1
    return best


def normalise_query(query: str | None) -> str:
    """The query as the filter compares it: folded, words separated by single spaces, at most 100 characters."""
    return " ".join(_TOKEN.findall(fold((query or "")[:100])))


def picker_rows(units: Iterable[Mapping], lang: str, query: str | None = None) -> list[Mapping]:
    """``units`` matching ``query`` (accent-insensitive), ordered for a citizen looking for their office."""
    wanted = normalise_query(query)
    ranked = []
    for unit in units:
        rank = matches(unit, wanted)
        if rank is not None:
            ranked.append((rank, sort_key(display_name(unit, lang)), unit))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [unit for _, _, unit in ranked]
