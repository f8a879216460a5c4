"""Numbers and dates said aloud, as the speech recogniser writes them, turned into values.

Japanese comes as digits ("1954年8月9日"), kanji ("千九百五十四", "一二三"),
kana ("せんきゅうひゃくごじゅうよねん", "はちがつここのか")
or an era ("昭和29年", "しょうわにじゅうくねん");
English as digits or words ("nineteen fifty four", "August ninth", "oh nine oh"). Kanji numerals
are read by kanjize and English number words by text2num; this module only brings kana to
kanji and finds the parts of a date.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from kanjize import kanji2number
from text_to_num import alpha2digit

# Kana readings of numerals, longest first so "じゅう" wins over "じゅ…" and "きゅう" over "く".
_KANA_NUMERALS = (
    ("ひゃく", "百"), ("びゃく", "百"), ("ぴゃく", "百"), ("じゅう", "十"), ("じゅっ", "十"),
    ("きゅう", "九"), ("ぜろ", "〇"), ("れい", "〇"), ("まる", "〇"), ("いち", "一"),
    ("いっ", "一"), ("さん", "三"), ("よん", "四"), ("ろく", "六"), ("ろっ", "六"),
    ("なな", "七"), ("しち", "七"), ("はち", "八"), ("はっ", "八"), ("せん", "千"),
    ("ぜん", "千"), ("まん", "万"), ("に", "二"), ("し", "四"), ("よ", "四"), ("ご", "五"),
    ("く", "九"),
)
# Days of the month in their native readings (ついたち, ここのか, はつか …).
_KANA_DAYS = (
    ("にじゅうよっか", "24日"), ("じゅうよっか", "14日"), ("ついたち", "1日"), ("ふつか", "2日"),
    ("みっか", "3日"), ("よっか", "4日"), ("いつか", "5日"), ("むいか", "6日"), ("なのか", "7日"),
    ("ようか", "8日"), ("ここのか", "9日"), ("とおか", "10日"), ("はつか", "20日"),
)
_KANA_UNITS = (("がんねん", "元年"), ("ねん", "年"), ("がつ", "月"), ("にち", "日"))
_ERAS = {"明治": "meiji", "大正": "taisho", "昭和": "showa", "平成": "heisei", "令和": "reiwa"}
_KANA_ERAS = {"めいじ": "明治", "たいしょう": "大正", "しょうわ": "昭和", "へいせい": "平成",
              "れいわ": "令和"}
_KANJI_NUMERAL = re.compile(r"[〇一二三四五六七八九零十百千万]+")
_POSITIONAL = re.compile(r"[十百千万]")
_KANJI_DIGIT = str.maketrans("〇一二三四五六七八九零", "01234567890")
# What follows a lone one-sound numeral that makes it a number: a date unit, 番 (ばん).
_COUNTED = ("年", "月", "日", "番", "ば")
_ONLY_DIGITS = re.compile(r"[\d\s、,.。ー\-]+")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_FILLER = re.compile(r"\b(the|of|on|and|my|is|it's|its|number|date|birth|born|i|was|a)\b")


@dataclass(frozen=True)
class SpokenDate:
    """A date as said: era (None for the Western year), the year in it, month and day."""

    era: str | None
    year: int
    month: int
    day: int


def _hiragana(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return "".join(chr(ord(ch) - 0x60) if "ァ" <= ch <= "ヶ" else ch for ch in text)


def _kana_to_kanji(text: str) -> str:
    """Kana numerals and date units as kanji ("はちがつここのか" → "八月9日").

    A lone one-sound numeral (し, よ, ご, く, に) inside other words is left alone, so that
    "お願いします" stays words; a run of numerals, one next to a date unit or the whole answer
    is a number.
    """
    for kana, kanji in (*_KANA_DAYS, *_KANA_UNITS):
        text = text.replace(kana, kanji)
    pieces: list[tuple[str, str | None]] = []  # (text as said, kanji when a numeral)
    index = 0
    while index < len(text):
        for kana, kanji in _KANA_NUMERALS:
            if text.startswith(kana, index):
                pieces.append((kana, kanji))
                index += len(kana)
                break
        else:
            pieces.append((text[index], None))
            index += 1
    out: list[str] = []
    start = 0
    while start < len(pieces):
        end = start
        while end < len(pieces) and pieces[end][1] is not None:
            end += 1
        if end == start:
            out.append(pieces[start][0])
            start += 1
            continue
        run = pieces[start:end]
        after = pieces[end][0] if end < len(pieces) else ""
        whole = start == 0 and end == len(pieces)
        numeric = len(run) > 1 or len(run[0][0]) > 1 or whole or after in _COUNTED
        out.extend(kanji if numeric else kana for kana, kanji in run)  # type: ignore[misc]
        start = end
    return "".join(out)


def _kanji_to_digits(text: str) -> str:
    """Each run of kanji numerals as Arabic digits: "千九百五十四" → 1954, "一二三" → 123."""

    def convert(match: re.Match[str]) -> str:
        run = match.group(0)
        if not _POSITIONAL.search(run):
            return run.translate(_KANJI_DIGIT)  # said digit by digit
        try:
            return str(kanji2number(run.replace("〇", "").replace("零", "")))
        except (ValueError, KeyError):
            return run
    return _KANJI_NUMERAL.sub(convert, text)


def _japanese(text: str) -> str:
    text = re.sub(r"\s+", "", _hiragana(text))
    for name, kanji in _KANA_ERAS.items():
        text = text.replace(name, kanji)  # before numerals: しょうわ and れいわ hold some
    return _kanji_to_digits(_kana_to_kanji(text))


def _english(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().replace("-", " ")
    # "oh" for zero, as in "oh nine oh", only among other numbers.
    text = re.sub(r"\b(oh|o)\b", "zero", text)
    return alpha2digit(text, "en", threshold=0)


def number_from_speech(speech: str, lang: str) -> str:
    """The digits of a number said aloud ("" when no number was heard)."""
    if not speech:
        return ""
    text = _japanese(speech) if lang == "ja" else _english(speech)
    if lang != "ja":
        text = _japanese(text)  # a Japanese caller on the English line, or kanji in the text
    return "".join(ch for ch in text if ch.isascii() and ch.isdigit())[:40]


def whole_number(speech: str) -> str:
    """The digits when the whole answer is a number ("いち", "にばん", "one two"), else ""."""
    text = _japanese(speech)
    text = alpha2digit(unicodedata.normalize("NFKC", text).lower().replace("-", " "), "en",
                       threshold=0)
    # "1番です" is how many callers say a menu number.
    text = re.sub(r"(番|ばん)(です)?$", "", text.strip("。、.,!?！？ "))
    if not text or not _ONLY_DIGITS.fullmatch(text):
        return ""
    return re.sub(r"\D", "", text)[:40]


def _japanese_date(text: str) -> SpokenDate | None:
    text = re.sub(r"[\s、。,]", "", _japanese(text)).replace("元年", "1年")
    for name, era in _ERAS.items():
        text = text.replace(name, f"<{era}>")
    found = re.search(r"(?:<(\w+)>)?(\d{1,4})年(\d{1,2})月(\d{1,2})日?", text)
    if found is None:
        return None
    era, year, month, day = found.groups()
    return SpokenDate(era, int(year), int(month), int(day))


def _english_date(text: str) -> SpokenDate | None:
    words = _FILLER.sub(" ", _english(text))
    month = next((index + 1 for index, name in enumerate(_MONTHS)
                  if re.search(rf"\b{name[:3]}\w*\b", words)), None)
    words = re.sub(r"\b(" + "|".join(name[:3] for name in _MONTHS) + r")\w*\b", " ", words)
    numbers = re.findall(r"\d+", re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", words))
    # "19 54" is how text2num writes "nineteen fifty four": two pairs make the year.
    merged: list[str] = []
    for number in numbers:
        if merged and len(merged[-1]) == 2 and len(number) == 2 and merged[-1] in ("19", "20"):
            merged[-1] += number
        else:
            merged.append(number)
    years = [n for n in merged if len(n) == 4]
    rest = [int(n) for n in merged if len(n) != 4]
    if len(years) != 1:
        return None
    if month is None and len(rest) == 2:
        month, day = rest  # 8 9 1954: month first, as said in the United States
    elif month is not None and len(rest) == 1:
        day = rest[0]
    else:
        return None
    return SpokenDate(None, int(years[0]), month, day)


def date_from_speech(speech: str, lang: str) -> SpokenDate | None:
    """The date said aloud, in whichever form, or None (the date itself is not checked here)."""
    if not speech:
        return None
    if lang == "ja":
        return _japanese_date(speech)
    return _english_date(speech) or _japanese_date(speech)
