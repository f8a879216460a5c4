"""Search terms of a resident's name, as blind-index digests in resident_search_terms.

Names and kana are sealed, so the database cannot look inside them. Instead each resident gets
the digests of a few normalised forms of their name and kana: the whole name (without spaces),
each part (family name, given name), and the first one to four characters of each part, so that
search-as-you-type on the start of a family or given name keeps working. A search computes the
same digests of what was typed and finds the residents who have them.

Normalised: NFKC (full-width letters and half-width kana made ordinary), hiragana as katakana,
every dash after kana as the long vowel mark ー, a few old character forms as today's (髙 → 高),
Latin letters case-folded, spaces and ・ as separators between parts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from sqlalchemy import (
    CompoundSelect,
    Connection,
    Select,
    delete,
    event,
    insert,
    inspect,
    select,
    union,
)
from sqlalchemy.orm import Session

from madoguchi.models import Resident, ResidentSearchTerm
from madoguchi.sealing import state

# Search-as-you-type covers the first PREFIX_MAX characters of each part; longer text must be a
# whole part or the whole name.
PREFIX_MAX = 4
WHOLE_NAME = "name"
PART = "name_part"
PREFIX = "name_prefix"

_CHUNK = 5000
_DASHES = "-‐‑‒–—―−〜～~"
_SEPARATORS = re.compile(r"[\s・,.、。]+")
_OLD_FORMS = str.maketrans({
    "髙": "高", "﨑": "崎", "嵜": "崎", "邊": "辺", "邉": "辺", "澤": "沢", "濱": "浜",
    "齋": "斎", "齊": "斉", "櫻": "桜", "廣": "広", "國": "国", "德": "徳", "眞": "真",
    "實": "実", "惠": "恵", "冨": "富", "瀨": "瀬", "嶋": "島", "槇": "槙", "龍": "竜",
})
_OLD_KANA = str.maketrans({"ヰ": "イ", "ヱ": "エ"})


def _is_kana(ch: str) -> bool:
    return "\u30a0" <= ch <= "\u30ff"


def normalise(text: str) -> str:
    """A name as it is indexed: parts separated by single spaces."""
    text = unicodedata.normalize("NFKC", text or "")
    text = "".join(chr(ord(ch) + 0x60) if "\u3041" <= ch <= "\u3096" or ch in "ゝゞ" else ch
                   for ch in text)
    chars: list[str] = []
    for ch in text:
        if ch in _DASHES and chars and (_is_kana(chars[-1]) or chars[-1] == "ー"):
            ch = "ー"
        chars.append(ch)
    text = "".join(chars).translate(_OLD_FORMS).translate(_OLD_KANA).casefold()
    return " ".join(part for part in _SEPARATORS.split(text) if part)


def name_parts(text: str) -> list[str]:
    """The parts of a normalised name (family name, given name, …)."""
    return [part for part in normalise(text).split(" ") if part]


def _part_terms(part: str) -> set[tuple[str, str]]:
    terms = {(PREFIX, part[:length]) for length in range(1, min(len(part), PREFIX_MAX) + 1)}
    if len(part) > PREFIX_MAX:
        terms.add((PART, part))
    return terms


def terms_of(*names: str | None) -> set[tuple[str, str]]:
    """Every (kind, normalised text) a resident is found by, from their name and kana."""
    terms: set[tuple[str, str]] = set()
    for name in names:
        parts = name_parts(name or "")
        if not parts:
            continue
        terms.add((WHOLE_NAME, "".join(parts)))
        for part in parts:
            terms |= _part_terms(part)
    return terms


def rows_for(resident_id: int, name: str | None, kana: str | None) -> list[dict]:
    """The resident_search_terms rows of one resident (digests under the newest index key)."""
    keyring = state.current()
    return [{"resident_id": resident_id, "term": keyring.digest(kind, value)}
            for kind, value in sorted(terms_of(name, kana))]


def replace_terms(connection: Connection, residents: Iterable[tuple[int, str | None, str | None]]
                  ) -> int:
    """Replace the search terms of these (id, name, kana) residents; returns rows written."""
    residents = list(residents)
    table = ResidentSearchTerm.__table__
    written = 0
    for start in range(0, len(residents), _CHUNK):
        chunk = residents[start:start + _CHUNK]
        connection.execute(delete(table).where(table.c.resident_id.in_([r[0] for r in chunk])))
        rows = [row for resident_id, name, kana in chunk
                for row in rows_for(resident_id, name, kana)]
        if rows:
            connection.execute(insert(table), rows)
        written += len(rows)
    return written


# No one's name has more parts than this (family, given, middle names), even written in full.
MAX_NAME_WORDS = 8


class TooManyWords(ValueError):
    """A name search of more words than any name has; the message says how many are allowed."""


def _digests_for_word(word: str) -> list[str]:
    keyring = state.current()
    kinds = [PART, WHOLE_NAME] if len(word) > PREFIX_MAX else [PREFIX, WHOLE_NAME]
    return [digest for kind in kinds for digest in keyring.lookup_digests(kind, word)]


def matching_residents(text: str) -> Select | CompoundSelect | None:
    """Ids of residents whose name or kana matches the typed text, or None if nothing to match.

    One word: the whole name, a whole part, or the start (up to four characters) of a part.
    Several words: each word the start or whole of one of the parts (family and given name in
    any order), or all the words together the whole name. Raises TooManyWords past
    MAX_NAME_WORDS.
    """
    words = name_parts(text)
    if not words:
        return None
    if len(words) > MAX_NAME_WORDS:
        # Each word is one more condition of the query: SQLite refuses a query of a thousand.
        raise TooManyWords(f"a name is searched by at most {MAX_NAME_WORDS} words, "
                           f"{len(words)} were typed")
    term = ResidentSearchTerm.__table__.c
    keyring = state.current()
    whole = select(term.resident_id).where(
        term.term.in_(keyring.lookup_digests(WHOLE_NAME, "".join(words))))
    if len(words) == 1:
        return select(term.resident_id).where(term.term.in_(_digests_for_word(words[0])))
    every_word = select(Resident.id).where(*(
        Resident.id.in_(select(term.resident_id).where(term.term.in_(_digests_for_word(word))))
        for word in words))
    return union(whole, every_word)


def _refresh_changed(session: Session, _context) -> None:
    """After a flush: residents added, or whose name or kana changed, get fresh search terms."""
    changed = []
    for obj in [*session.new, *session.dirty]:
        if not isinstance(obj, Resident):
            continue
        state = inspect(obj)
        if obj in session.new or state.attrs.name.history.has_changes() or (
                state.attrs.name_kana.history.has_changes()):
            changed.append((obj.id, obj.name, obj.name_kana))
    if changed:
        replace_terms(session.connection(), changed)


def install() -> None:
    """Attach the term keeper to every Session (idempotent)."""
    if not event.contains(Session, "after_flush", _refresh_changed):
        event.listen(Session, "after_flush", _refresh_changed)
