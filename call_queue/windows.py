"""Callback time windows a caller may choose: later today or tomorrow, only while the line is open.

The daily windows come from config ([queue] callback_windows, 1 or 2 hours each). A window is
offered only if it has not started yet and the line is open from its start to its end; "as soon
as possible" is always the first choice, so at most MAX_OFFERED windows follow it (four options
in a voice menu at most).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal

from madoguchi import hours
from madoguchi.settings import Settings

MAX_OFFERED = 3
NOON = time(12, 0)
Day = Literal["today", "tomorrow"]
Part = Literal["morning", "afternoon", "day"]


@dataclass(frozen=True)
class CallbackWindow:
    """A time span in which the caller wants to be called back (aware datetimes)."""

    start: datetime
    end: datetime
    day: Day

    @property
    def part(self) -> Part:
        """Morning or afternoon, as said aloud; "day" for a window across noon."""
        start, end = self.local_times()
        if end <= NOON:
            return "morning"
        if start >= NOON:
            return "afternoon"
        return "day"

    def local_times(self) -> tuple[time, time]:
        """Start and end as wall-clock times where the window was made."""
        return self.start.timetz().replace(tzinfo=None), self.end.timetz().replace(tzinfo=None)


def open_throughout(settings: Settings, start: datetime, end: datetime) -> bool:
    """True when the line is open from start until end (one opening span a day)."""
    last_minute = end - timedelta(minutes=1)
    return (hours.is_open(settings, start) and hours.is_open(settings, last_minute)
            and start.astimezone(settings.tz).date() == last_minute.astimezone(settings.tz).date())


def offered_windows(settings: Settings, now: datetime) -> list[CallbackWindow]:
    """The windows to offer now, earliest first: not yet started, open throughout, at most 3."""
    if now.tzinfo is None:
        raise ValueError("offered_windows needs a time-zone aware datetime")
    today = now.astimezone(settings.tz).date()
    found: list[CallbackWindow] = []
    for offset in (0, 1):
        date = today + timedelta(days=offset)
        for opens, closes in settings.queue.window_times():
            start = datetime.combine(date, opens, tzinfo=settings.tz)
            end = datetime.combine(date, closes, tzinfo=settings.tz)
            if start > now and open_throughout(settings, start, end):
                found.append(CallbackWindow(start, end, _day(settings, start, now)))
    return found[:MAX_OFFERED]


def _day(settings: Settings, start: datetime, now: datetime) -> Day:
    same = start.astimezone(settings.tz).date() == now.astimezone(settings.tz).date()
    return "today" if same else "tomorrow"


def offer_codes(windows: list[CallbackWindow]) -> tuple[int, ...]:
    """The offered windows as start and end in epoch minutes, to travel in the action URL."""
    return tuple(int(moment.timestamp()) // 60 for w in windows for moment in (w.start, w.end))


def from_offer_codes(settings: Settings, now: datetime,
                     codes: tuple[int, ...]) -> list[CallbackWindow]:
    """The windows offered earlier, from their codes; malformed or far-off pairs are left out."""
    today = now.astimezone(settings.tz).date()
    found = []
    for start_code, end_code in zip(codes[::2], codes[1::2], strict=False):
        if end_code - start_code not in (60, 120):
            continue
        start = datetime.fromtimestamp(start_code * 60, settings.tz)
        end = datetime.fromtimestamp(end_code * 60, settings.tz)
        # Only today or tomorrow can have been offered (a call may pass midnight, no more).
        if not today - timedelta(days=1) <= start.date() <= today + timedelta(days=1):
            continue
        found.append(CallbackWindow(start, end, _day(settings, start, now)))
    return found[:MAX_OFFERED]
