"""The list of case categories kept in config.toml: their keys, names, and checking a choice.

Cases keep a category's key; the console shows its name in the operator's language. A key no
longer in the list (a clerk removed it) still shows, by its key, and counts as "other" in the
reports, so older cases are never lost from the totals.
"""

from __future__ import annotations

import unicodedata

from madoguchi.inquiries import InquiryError
from madoguchi.settings import InquirySettings

OTHER = "other"


class UnknownCategory(InquiryError):
    """The category chosen is not one of the list in config.toml."""


def keys(config: InquirySettings) -> tuple[str, ...]:
    """Every category key, in the list's order."""
    return tuple(item.key for item in config.categories)


def choices(config: InquirySettings, language: str) -> list[tuple[str, str]]:
    """(key, name in the language) for a select, in the list's order."""
    return [(item.key, name(config, item.key, language)) for item in config.categories]


def name(config: InquirySettings, key: str, language: str) -> str:
    """A category's name in the language (Japanese unless English); the key if not listed."""
    item = config.category(key)
    if item is None:
        return key
    return item.en if language == "en" else item.ja


def require(config: InquirySettings, key: str | None) -> str:
    """The key when it is in the list; UnknownCategory otherwise."""
    chosen = (key or "").strip()
    if config.category(chosen) is None:
        raise UnknownCategory(f"category must be one of: {', '.join(keys(config))}")
    return chosen


def reported(config: InquirySettings, key: str) -> str:
    """The category a case counts under in the reports: its own if listed, else "other"."""
    return key if config.category(key) is not None else OTHER


def _plain(text: str) -> str:
    """Text as typed, without the marks and spaces people put around a category."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(char for char in folded if unicodedata.category(char)[0] in "LN")


def closest_key(config: InquirySettings, free_text: str) -> str:
    """The category of the list a free-text category meant, else "other".

    A key or a name, however written ("@ごみ", " Waste "), is that category; a text holding a
    name ("粗大ごみ", "税金") or held by one ("road" in "Roads and street lights") is too, the
    longest name first.
    """
    typed = _plain(free_text)
    if not typed:
        return OTHER
    names = sorted(
        ((_plain(label), item.key) for item in config.categories
         for label in (item.key, item.ja, item.en)),
        key=lambda pair: -len(pair[0]))
    for label, key in names:
        if label and label == typed:
            return key
    for label, key in names:
        # One kanji is a word ("税"); one Latin letter is not.
        whole_word = len(label) >= 2 or not label.isascii()
        if whole_word and (label in typed or (len(typed) >= 3 and typed in label)):
            return key
    return OTHER
