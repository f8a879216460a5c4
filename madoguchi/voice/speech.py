"""What the line says, as data: sentences by prompt key, pauses, and how values are spoken.

An utterance is a tuple of Line and Pause. A Line keeps its prompt key so that a recorded audio
file for that key can be played instead of synthesised speech. Dates, times, codes and phone
numbers are turned into words here, per language, from the [format] table of the prompts file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from madoguchi import codes, phone
from prompts import Catalog

# In prompt texts, "|" marks a short pause between two phrases.
PAUSE_MARK = "|"


@dataclass(frozen=True)
class Line:
    """One sentence of a prompt, with the key it came from (None for data such as FAQ text).

    lang is set only for a sentence in another language than the caller's (the language menu).
    """

    text: str
    key: str | None = None
    lang: str | None = None


@dataclass(frozen=True)
class Pause:
    """A silence between sentences."""

    ms: int


Utterance = tuple[Line | Pause, ...]


class Speaker:
    """Sentences and spoken values in one language."""

    def __init__(self, catalog: Catalog, tz: ZoneInfo, pause_ms: int) -> None:
        self.catalog = catalog
        self.tz = tz
        self.pause_ms = pause_ms

    @property
    def lang(self) -> str:
        """The language code."""
        return self.catalog.code

    def line(self, key: str, /, **values: object) -> Line:
        """A sentence from the prompts file."""
        return Line(self.catalog.text(key, **values), key)

    def say(self, *items: Line | Pause | str, pause: bool = True) -> Utterance:
        """An utterance: prompt keys (str) or lines, with a pause between sentences."""
        result: list[Line | Pause] = []
        for item in items:
            line = self.line(item) if isinstance(item, str) else item
            if result and pause and not isinstance(line, Pause):
                result.append(Pause(self.pause_ms))
            result.append(line)
        return tuple(result)

    def digits(self, text: str, group: int = 3) -> str:
        """A code spoken one digit at a time, in groups with a pause between groups."""
        groups = codes.spoken_groups(text, group) if text.isdigit() else [text]
        return PAUSE_MARK.join(" ".join(chunk) for chunk in groups)

    def phone_number(self, e164: str) -> str:
        """A phone number read digit by digit in its national groups (090, 1234, 5678)."""
        return PAUSE_MARK.join(" ".join(chunk) for chunk in phone.spoken_digit_groups(e164))

    def date(self, day: date) -> str:
        """A date as said aloud (11月25日、水曜日 / Wednesday, November 25)."""
        fmt = self.catalog.fmt
        return fmt("date").format(
            month=day.month, day=day.day, weekday=fmt("weekdays")[day.weekday()],
            month_name=fmt("months")[day.month - 1], year=day.year,
        )

    def time(self, hour: int, minute: int) -> str:
        """A clock time as said aloud (午前9時30分 / 9:30 a.m.)."""
        fmt = self.catalog.fmt
        period = fmt("am") if hour < 12 else fmt("pm")
        twelve = hour % 12 or 12
        template = fmt("time_on_the_hour") if minute == 0 else fmt("time")
        return template.format(period=period, hour=twelve, minute=minute)

    def when(self, instant: datetime) -> str:
        """Date and time of an instant in the city's time zone."""
        local = instant.astimezone(self.tz)
        return self.catalog.fmt("date_time").format(
            date=self.date(local.date()), time=self.time(local.hour, local.minute)
        )

    def window(self, day: str, part: str, start: time, end: time) -> str:
        """A callback window as said aloud ("this afternoon between 2 and 4").

        `day` is today or tomorrow, `part` morning, afternoon or day (a window across noon, whose
        times then carry their own a.m. / p.m.).
        """
        fmt = self.catalog.fmt

        def clock(moment: time) -> str:
            if part == "day":
                return self.time(moment.hour, moment.minute)
            template = fmt("clock") if moment.minute == 0 else fmt("clock_minutes")
            return template.format(hour=moment.hour % 12 or 12, minute=moment.minute)

        return fmt("window").format(when=fmt("window_days")[f"{day}_{part}"], start=clock(start),
                                    end=clock(end))

    def birth_date(self, value: date, era: str | None = None, era_year: int | None = None) -> str:
        """A birth date read back the way it was keyed (西暦 or 和暦)."""
        fmt = self.catalog.fmt
        month_name = fmt("months")[value.month - 1]
        if era and era_year:
            return fmt("era_date").format(
                era=fmt("eras")[era], year=era_year, month=value.month, day=value.day,
                month_name=month_name,
            )
        return fmt("birth_date").format(
            year=value.year, month=value.month, day=value.day, month_name=month_name
        )
