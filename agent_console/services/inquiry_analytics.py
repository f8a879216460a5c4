"""Inquiry analytics: what residents ask about, how it changes, and how fast the city answers.

Definitions (the report page states the same ones):
- an inquiry belongs to the local day (city time zone) on which it was received (created_at);
  a week starts on Monday;
- a topic is a noun or noun compound of a subject (agent_console.services.topic_words), or a
  Latin word of three or more letters; each inquiry counts once per word, together with its
  category, and the topic lists the inquiries behind it (the FAQ candidates);
- open means not done; overdue means open and past its due time, both as of now and over all
  inquiries, whatever the chosen range;
- response time runs from receipt to the first timeline entry an operator wrote after logging
  it (a status change, a note or an update for the resident); inquiries without one yet are
  counted as awaiting a response and left out of the times;
- resolution time runs from receipt to closed_at, for inquiries now done.
Response and resolution times cover the inquiries received in the chosen range.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from agent_console.services.topic_words import topic_words
from call_queue.line_metrics.sql import seconds_between
from madoguchi import booking, inquiry_categories, local_days
from madoguchi.models import Inquiry, InquiryEvent, utcnow
from madoguchi.settings import InquirySettings

GRANULARITIES = ("day", "week")
TOP_CATEGORIES = 8
TOP_TOPICS = 20
# Topics need the sealed subjects, opened one by one in Python: they are read from at most this
# many inquiries, the latest of the range (the page says so when the range has more).
TOPIC_SAMPLE = 2000
OTHER = ""  # the column of categories beyond TOP_CATEGORIES; the page names it
# How many of the inquiries behind a topic the page links to.
TOPIC_CASES_SHOWN = 10


class AnalyticsError(ValueError):
    """The report cannot be made for this choice; `key` is the console message saying why."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class ReportChoice:
    """The local days to cover (both included) and whether to count per day or per week."""

    first_day: date
    last_day: date
    granularity: str = "day"


@dataclass(frozen=True)
class Topic:
    """A frequent word within a category, how many inquiries used it, one example, and the
    inquiries behind it (id, reference; the first TOPIC_CASES_SHOWN)."""

    category: str
    word: str
    count: int
    example: str
    cases: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class DurationStats:
    """Durations of the inquiries that have one, and how many do not yet."""

    count: int
    pending: int
    median_seconds: float | None
    mean_seconds: float | None
    p90_seconds: float | None


@dataclass(frozen=True)
class OpenCases:
    """Open and overdue inquiries of one category, as of now."""

    category: str
    open: int
    overdue: int


@dataclass
class InquiryReport:
    """Everything on the inquiry analytics page."""

    choice: ReportChoice
    received: int
    buckets: list[date]
    categories: list[str]
    counts: dict[tuple[date, str], int] = field(default_factory=dict)
    topics: list[Topic] = field(default_factory=list)
    open_cases: list[OpenCases] = field(default_factory=list)
    response: DurationStats | None = None
    resolution: DurationStats | None = None
    topics_from: int = 0  # how many inquiries (the latest of the range) the topics were read from

    def count(self, bucket: date, category: str) -> int:
        """Inquiries of the category received in the bucket."""
        return self.counts.get((bucket, category), 0)

    def bucket_total(self, bucket: date) -> int:
        """Inquiries of every category received in the bucket."""
        return sum(self.count(bucket, category) for category in self.categories)

    @property
    def open_total(self) -> int:
        """Open inquiries of every category."""
        return sum(item.open for item in self.open_cases)

    @property
    def overdue_total(self) -> int:
        """Overdue inquiries of every category."""
        return sum(item.overdue for item in self.open_cases)


def check_choice(choice: ReportChoice) -> None:
    """Refuse a reversed range or an unknown granularity."""
    if choice.last_day < choice.first_day:
        raise AnalyticsError("range_reversed")
    if choice.granularity not in GRANULARITIES:
        raise AnalyticsError("granularity_unknown")


def bucket_of(day: date, granularity: str) -> date:
    """The first day of the day's bucket: the day itself, or the Monday of its week."""
    return day if granularity == "day" else day - timedelta(days=day.weekday())


def buckets(choice: ReportChoice) -> list[date]:
    """Every bucket of the range, in order, empty ones included."""
    step = timedelta(days=1 if choice.granularity == "day" else 7)
    current, last = bucket_of(choice.first_day, choice.granularity), choice.last_day
    found = []
    while current <= last:
        found.append(current)
        current += step
    return found


def duration_stats(seconds: list[float], pending: int) -> DurationStats:
    """Median, mean and 90th percentile (nearest rank) of the durations."""
    if not seconds:
        return DurationStats(0, pending, None, None, None)
    ordered = sorted(seconds)
    p90 = ordered[max(math.ceil(0.9 * len(ordered)) - 1, 0)]
    return DurationStats(len(ordered), pending, statistics.median(ordered),
                         statistics.fmean(ordered), p90)


def _first_responses(start: datetime, end: datetime):
    """Per inquiry received in [start, end), when an operator first wrote to its timeline
    after logging it (only those inquiries' entries are read, not the whole history)."""
    return (
        select(InquiryEvent.inquiry_id, func.min(InquiryEvent.at).label("first_at"))
        .join(Inquiry, Inquiry.id == InquiryEvent.inquiry_id)
        .where(InquiryEvent.operator_id.is_not(None), InquiryEvent.kind != "created",
               Inquiry.created_at >= start, Inquiry.created_at < end)
        .group_by(InquiryEvent.inquiry_id)
        .subquery()
    )


def _range(choice: ReportChoice, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return booking.day_bounds(choice.first_day, tz)[0], booking.day_bounds(choice.last_day, tz)[1]


def _day_counts(session: Session, start: datetime, end: datetime,
                tz: ZoneInfo) -> list[tuple[date, str, int]]:
    """(local day, category, inquiries received) for every day and category that has some."""
    day = local_days.day_number(session, Inquiry.created_at, start, end, tz).label("day")
    rows = session.execute(
        select(day, Inquiry.category, func.count())
        .where(Inquiry.created_at >= start, Inquiry.created_at < end)
        .group_by(day, Inquiry.category))
    return [(local_days.day_of(number), category, int(n)) for number, category, n in rows]


def _difference(session: Session, later, earlier):
    """later - earlier as the database compares it cheapest: an interval on PostgreSQL (whose
    seconds as numbers sort several times slower), seconds on SQLite (see _seconds)."""
    if session.get_bind().dialect.name == "postgresql":
        return later - earlier
    return seconds_between(session, later, earlier)


def _seconds(session: Session, difference):
    """A _difference in seconds."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", difference)
    return difference


def _durations(session: Session, start: datetime, end: datetime) -> Select:
    """Per inquiry received in [start, end): the time to the first response and to done (NULL
    while there is none), as _difference gives them."""
    first = _first_responses(start, end)
    return (
        select(_difference(session, first.c.first_at, Inquiry.created_at).label("response"),
               _difference(session, Inquiry.closed_at, Inquiry.created_at).label("resolution"))
        .outerjoin(first, first.c.inquiry_id == Inquiry.id)
        .where(Inquiry.created_at >= start, Inquiry.created_at < end)
    )


def _ranked(session: Session, durations, column: str):
    """The values of one duration that its median (the middle one, or the two middle ones) and
    its 90th percentile (nearest rank) read, each with the count and mean of all of them."""
    value = durations.c[column]
    ranked = (
        select(value.label("v"), func.row_number().over(order_by=value).label("n"),
               func.count().over().label("c"), func.avg(value).over().label("mean"))
        .where(value.is_not(None))
        .subquery()
    )
    rank, count = ranked.c.n, ranked.c.c
    return select(literal(column).label("kind"), rank, _seconds(session, ranked.c.v), count,
                  _seconds(session, ranked.c.mean)).where(
        or_(rank == (count + 1) // 2, rank == (count + 2) // 2, rank == (9 * count + 9) // 10))


def _times(session: Session, start: datetime, end: datetime,
           received: int) -> tuple[DurationStats, DurationStats]:
    """Response and resolution times of the inquiries received in [start, end), by the
    database in one statement: each duration's count and mean, and the few values the median
    and the 90th percentile read."""
    if session.get_bind().dialect.name == "postgresql":
        return _times_by_percentiles(session, start, end, received)
    durations = _durations(session, start, end).cte("durations")
    found: dict[str, dict[int, tuple[float, int, float]]] = {"response": {}, "resolution": {}}
    for kind, rank, value, count, mean in session.execute(
            union_all(_ranked(session, durations, "response"),
                      _ranked(session, durations, "resolution"))):
        found[kind][int(rank)] = (float(value), int(count), float(mean))
    return _stats(found["response"], received), _stats(found["resolution"], received)


def _times_by_percentiles(session: Session, start: datetime, end: datetime,
                          received: int) -> tuple[DurationStats, DurationStats]:
    """_times on PostgreSQL, by ordered-set aggregates in one pass."""
    # percentile_cont(0.5) is the mean of the two middle values, percentile_disc(0.9) the
    # nearest rank: the figures _stats reads, without numbering every row.
    durations = _durations(session, start, end).subquery()

    def summary(value) -> tuple:
        return (func.count(value), func.extract("epoch", func.avg(value)),
                func.extract("epoch", func.percentile_cont(0.5).within_group(value)),
                func.extract("epoch", func.percentile_disc(0.9).within_group(value)))

    row = session.execute(select(*summary(durations.c.response),
                                 *summary(durations.c.resolution))).one()
    return _summary_stats(row[:4], received), _summary_stats(row[4:], received)


def _summary_stats(values, received: int) -> DurationStats:
    """DurationStats from (count, mean, median, p90) in seconds; None for no durations."""
    count, mean, median, p90 = values
    if not count:
        return DurationStats(0, received, None, None, None)
    return DurationStats(int(count), received - int(count), float(median), float(mean),
                         float(p90))


def _stats(at: dict[int, tuple[float, int, float]], received: int) -> DurationStats:
    """DurationStats from the ranked values _ranked found (rank: value, count, mean)."""
    if not at:
        return DurationStats(0, received, None, None, None)
    _, count, mean = next(iter(at.values()))
    middle = [at[(count + 1) // 2][0], at[(count + 2) // 2][0]]
    return DurationStats(count, received - count, statistics.fmean(middle), mean,
                         at[(9 * count + 9) // 10][0])


def _topic_rows(session: Session, start: datetime, end: datetime):
    """The category and subject of the latest TOPIC_SAMPLE inquiries of the range, oldest
    first: subjects are sealed, so topics are read in Python from a bounded number of them."""
    latest = (select(Inquiry.id, Inquiry.created_at, Inquiry.category, Inquiry.subject,
                     Inquiry.reference)
              .where(Inquiry.created_at >= start, Inquiry.created_at < end)
              .order_by(Inquiry.created_at.desc(), Inquiry.id.desc())
              .limit(TOPIC_SAMPLE))
    return sorted(session.execute(latest).all(), key=lambda row: (row.created_at, row.id))


def topics(rows, group=lambda category: category) -> list[Topic]:
    """The most frequent (category, word) pairs over the rows, with the first subject of each;
    group gives the category a row counts under."""
    topic_counts: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], str] = {}
    behind: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for row in rows:
        category = group(row.category)
        for word in topic_words(row.subject):
            topic_counts[(category, word)] += 1
            examples.setdefault((category, word), row.subject)
            cases = behind.setdefault((category, word), [])
            if len(cases) < TOPIC_CASES_SHOWN:
                cases.append((row.id, row.reference))
    ranked = sorted(topic_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_TOPICS]
    return [Topic(cat, word, n, examples[(cat, word)], tuple(behind[(cat, word)]))
            for (cat, word), n in ranked]


def _grouping(config: InquirySettings | None):
    """How a stored category is counted: by the city's list (unlisted keys as "other")."""
    if config is None:
        return lambda key: key
    return lambda key: inquiry_categories.reported(config, key)


def open_cases(session: Session, now: datetime | None = None,
               config: InquirySettings | None = None) -> list[OpenCases]:
    """Open and overdue inquiries per category of the list as of now, most open first."""
    now = now or utcnow()
    overdue = func.sum(case((Inquiry.due_at < now, 1), else_=0))
    query = (
        select(Inquiry.category, func.count(), func.coalesce(overdue, 0))
        .where(Inquiry.status != "done")
        .group_by(Inquiry.category)
    )
    group = _grouping(config)
    totals: dict[str, list[int]] = {}
    for category, open_count, overdue_count in session.execute(query):
        total = totals.setdefault(group(category), [0, 0])
        total[0] += int(open_count)
        total[1] += int(overdue_count)
    found = [OpenCases(key, counts[0], counts[1]) for key, counts in totals.items()]
    return sorted(found, key=lambda item: (-item.open, item.category))


def analyse(session: Session, choice: ReportChoice, tz: ZoneInfo,
            now: datetime | None = None, config: InquirySettings | None = None
            ) -> InquiryReport:
    """The inquiry report for the range; raises AnalyticsError on a bad choice.

    Counts and times are aggregated by the database over every inquiry of the range; the
    topics, which need the sealed subjects, over the latest TOPIC_SAMPLE of them.
    """
    check_choice(choice)
    start, end = _range(choice, tz)
    group = _grouping(config)
    per_day = [(day, group(category), n)
               for day, category, n in _day_counts(session, start, end, tz)]
    per_category: Counter[str] = Counter()
    for _, category, n in per_day:
        per_category[category] += n
    top = [name for name, _ in sorted(per_category.items(), key=lambda kv: (-kv[1], kv[0]))]
    shown = top[:TOP_CATEGORIES] + ([OTHER] if len(top) > TOP_CATEGORIES else [])
    counts: Counter[tuple[date, str]] = Counter()
    for day, category, n in per_day:
        counts[(bucket_of(day, choice.granularity), category if category in shown else OTHER)] \
            += n
    received = sum(per_category.values())
    response, resolution = _times(session, start, end, received)
    sample = _topic_rows(session, start, end)
    return InquiryReport(
        choice=choice,
        received=received,
        buckets=buckets(choice),
        categories=shown,
        counts=dict(counts),
        topics=topics(sample, group),
        topics_from=len(sample),
        open_cases=open_cases(session, now, config),
        response=response,
        resolution=resolution,
    )
