"""Birth dates keyed on a phone: YYYYMMDD, or 和暦 as era key + 2-digit year + month + day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from madoguchi.voice.spoken import SpokenDate

# Era keys as the prompt announces them; the first year of each era is year 1 (元年).
ERAS = {"1": ("showa", 1926), "2": ("heisei", 1989), "3": ("taisho", 1912), "4": ("reiwa", 2019)}
# The last year of each era, so 昭和70年 is refused instead of silently becoming 1995.
ERA_LAST_YEAR = {"taisho": 15, "showa": 64, "heisei": 31, "reiwa": 99}


@dataclass(frozen=True)
class KeyedBirthDate:
    """A birth date and how the caller keyed it (era name and era year, for reading it back)."""

    value: date
    era: str | None = None
    era_year: int | None = None


def parse_birth_date(digits: str, today: date) -> KeyedBirthDate | None:
    """The date the caller keyed, or None when it is not a real past date."""
    try:
        if len(digits) == 8:
            value = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
            keyed = KeyedBirthDate(value)
        elif len(digits) == 7 and digits[0] in ERAS:
            era, first_year = ERAS[digits[0]]
            era_year = int(digits[1:3])
            if not 1 <= era_year <= ERA_LAST_YEAR[era]:
                return None
            value = date(first_year + era_year - 1, int(digits[3:5]), int(digits[5:]))
            keyed = KeyedBirthDate(value, era=era, era_year=era_year)
        else:
            return None
    except ValueError:
        return None
    if not date(1900, 1, 1) <= keyed.value <= today:
        return None
    return keyed


def keyed_form(spoken: SpokenDate) -> str | None:
    """A spoken date as the keys that say the same (19540809, or 1290809 for 昭和29年8月9日)."""
    if not (1 <= spoken.month <= 12 and 1 <= spoken.day <= 31):
        return None
    tail = f"{spoken.month:02d}{spoken.day:02d}"
    if spoken.era is None:
        return f"{spoken.year:04d}{tail}" if 1000 <= spoken.year <= 9999 else None
    key = next((k for k, (era, _) in ERAS.items() if era == spoken.era), None)
    if key is None or not 1 <= spoken.year <= 99:
        return None
    return f"{key}{spoken.year:02d}{tail}"
