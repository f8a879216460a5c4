"""What the caller pressed or said, normalised before anything interprets it.

Dial-pulse phones send `*` to switch to tones and many phones add `#`, so `*1`, `**1`, `1#` and
`1` all mean 1. A bare `*` is not a mistake: the question is asked again at once. Nor is a bare
`#` — the spill-over of a `1#` into the question after a one-key one — which is not counted.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from madoguchi.voice.spoken import whole_number
from prompts import Catalog

# Intents checked in this order: "予約の確認" is a check, "係の人" wins everywhere, and a
# polite "お願いします" only means yes when no other answer is in the sentence.
INTENT_PRIORITY = (
    "operator", "repeat", "identity", "code", "cancel", "check", "change", "keep", "later",
    "book", "faq", "menu", "goodbye", "callback", "voicemail", "no", "yes",
)
_KANJI_DIGITS = str.maketrans("〇一二三四五六七八九零", "01234567890")
_SPOKEN_DIGITS = re.compile(r"^[\d\s、,.。ー\-]+$")


@dataclass(frozen=True)
class Reply:
    """One answer from the caller: keys (cleaned), speech (cleaned), or nothing."""

    digits: str = ""
    speech: str = ""
    star_only: bool = False
    hash_only: bool = False
    keyed: bool = False  # the digits came from the keypad (not from speech)

    @property
    def silent(self) -> bool:
        """True when the caller gave no answer at all."""
        return not (self.digits or self.speech or self.star_only or self.hash_only)


def printable(raw: str | None, limit: int) -> str:
    """A form value without control characters (which no database column should hold)."""
    text = raw or ""
    if not text.isprintable():  # rare: most values are checked in one call, not per character
        text = "".join(ch for ch in text if ch.isprintable())
    return text.strip()[:limit]


def clean_digits(raw: str | None) -> tuple[str, bool]:
    """The digits without `*` and `#`, and whether only `*` (or `*`/`#`) was pressed."""
    text = unicodedata.normalize("NFKC", raw or "")
    digits = "".join(ch for ch in text if ch.isascii() and ch.isdigit())
    star_only = not digits and "*" in text
    return digits[:40], star_only


def clean_speech(raw: str | None) -> str:
    """Speech text folded to one width and case, without surrounding spaces and punctuation."""
    text = unicodedata.normalize("NFKC", raw or "").strip().lower()
    return text.strip("。、.,!?！？ ")[:200]


def spoken_digits(speech: str) -> str:
    """Digits the caller said ("1 2 3", "一二三", "いち", "one"), or "" when the speech is not
    just a number."""
    # "1番です" is how many callers say a menu number.
    text = re.sub(r"(番|ばん)(です)?$", "", speech.translate(_KANJI_DIGITS))
    if not text or not _SPOKEN_DIGITS.match(text):
        return whole_number(speech)
    return re.sub(r"\D", "", text)


def read_reply(form: Mapping[str, str]) -> Reply:
    """The caller's answer from a Gather's form fields (Digits, SpeechResult)."""
    digits, star_only = clean_digits(form.get("Digits"))
    keyed = bool(digits)
    speech = clean_speech(form.get("SpeechResult"))
    if not digits and speech:
        digits = spoken_digits(speech)
    # "1#" on a one-key question: the 1 answers it, and the # lands in the next question as an
    # empty answer finished by # (Digits "", FinishedOnKey "#"). That is no answer, nor silence.
    hash_only = (not digits and not speech and not star_only
                 and "#" in (form.get("FinishedOnKey") or "") + (form.get("Digits") or ""))
    return Reply(digits=digits, speech=speech, star_only=star_only, hash_only=hash_only,
                 keyed=keyed)


def _contains(speech: str, word: str) -> bool:
    word = unicodedata.normalize("NFKC", word).lower()
    if word.isascii():
        # Latin words must match whole words: "no" is not in "know" or "number".
        return re.search(rf"(?<![a-z']){re.escape(word)}(?![a-z'])", speech) is not None
    return word in speech


def intent_of(
    speech: str, catalog: Catalog, allowed: Iterable[str] = INTENT_PRIORITY
) -> str | None:
    """The first allowed intent whose words occur in the speech, in priority order."""
    if not speech:
        return None
    allowed = set(allowed)
    for intent in INTENT_PRIORITY:
        if intent in allowed and any(_contains(speech, w) for w in catalog.words(intent)):
            return intent
    return None


def names_language(speech: str, catalogs: Iterable[Catalog]) -> str | None:
    """The language the caller named ("English", "日本語"), if any."""
    for catalog in catalogs:
        if speech and any(_contains(speech, word) for word in catalog.words("self")):
            return catalog.code
    return None
