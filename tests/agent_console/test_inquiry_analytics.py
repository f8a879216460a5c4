"""Inquiry analytics on constructed cases: buckets, topics, open cases, response and resolution."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest

from agent_console.services import inquiry_analytics
from agent_console.services.inquiry_analytics import AnalyticsError, ReportChoice, topic_words
from madoguchi.models import Inquiry, InquiryEvent
from tests import factories

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2031, 10, 20, 3, 0, tzinfo=UTC)
_refs = count(1)


def case(session, *, at: datetime, category: str = "ごみ", subject: str = "粗大ごみの回収日",
         status: str = "received", due: datetime | None = None, closed: datetime | None = None,
         events: list[tuple[timedelta, str, int | None]] = ()) -> Inquiry:
    """An inquiry received at `at`, with timeline entries (offset, kind, operator id)."""
    item = Inquiry(reference=f"A{next(_refs):09d}", category=category, subject=subject,
                   status=status, channel="ivr", created_at=at, updated_at=at, due_at=due,
                   closed_at=closed)
    item.events.append(InquiryEvent(kind="created", at=at))
    for offset, kind, operator_id in events:
        item.events.append(InquiryEvent(kind=kind, at=at + offset, operator_id=operator_id))
    session.add(item)
    session.flush()
    return item


def jst(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2031, 10, day, hour, minute, tzinfo=TOKYO)


@pytest.fixture
def operator_id(db_session) -> int:
    return factories.operator(db_session).id


def test_an_inquiry_counts_on_the_local_day_it_was_received(db_session):
    case(db_session, at=jst(6, 23, 59))           # late on the 6th in the city
    case(db_session, at=jst(7, 0, 1))             # just after midnight: the 7th
    case(db_session, at=jst(5, 23, 59))           # before the range
    report = inquiry_analytics.analyse(
        db_session, ReportChoice(date(2031, 10, 6), date(2031, 10, 7)), TOKYO, NOW)
    assert report.received == 2
    assert report.buckets == [date(2031, 10, 6), date(2031, 10, 7)]
    assert [report.count(day, "ごみ") for day in report.buckets] == [1, 1]


def test_weeks_start_on_monday_and_empty_buckets_are_kept(db_session):
    case(db_session, at=jst(8, 10), category="道路")     # Wednesday of the week of the 6th
    case(db_session, at=jst(12, 10), category="道路")    # Sunday, same week
    case(db_session, at=jst(21, 10), category="ごみ")    # Tuesday two weeks later
    report = inquiry_analytics.analyse(
        db_session, ReportChoice(date(2031, 10, 8), date(2031, 10, 21), "week"), TOKYO, NOW)
    assert report.buckets == [date(2031, 10, 6), date(2031, 10, 13), date(2031, 10, 20)]
    assert report.categories == ["道路", "ごみ"]
    assert [report.bucket_total(week) for week in report.buckets] == [2, 0, 1]


def test_categories_beyond_the_top_eight_are_counted_together(db_session):
    for index in range(10):
        for _ in range(10 - index):
            case(db_session, at=jst(6, 10), category=f"分類{index}")
    report = inquiry_analytics.analyse(
        db_session, ReportChoice(date(2031, 10, 6), date(2031, 10, 6)), TOKYO, NOW)
    assert report.categories[:8] == [f"分類{index}" for index in range(8)]
    assert report.categories[8] == inquiry_analytics.OTHER
    assert report.count(date(2031, 10, 6), inquiry_analytics.OTHER) == 2 + 1
    assert report.bucket_total(date(2031, 10, 6)) == report.received == 55


def test_topic_words_asked_again_are_the_same_and_a_caller_cannot_change_them():
    first = topic_words("粗大ごみの回収日を知りたい")
    first.append("changed")
    assert topic_words("粗大ごみの回収日を知りたい") == ["粗大ごみ", "回収日"]


def test_topic_words_are_the_nouns_and_compounds_of_the_subject_and_latin_words():
    assert topic_words("粗大ごみの回収日を知りたい") == ["粗大ごみ", "回収日"]
    assert topic_words("ﾜｸﾁﾝ接種の予約、ワクチン接種") == [
        "ワクチン接種", "ワクチン", "接種", "予約"]
    assert topic_words("Where is the parking for the Vaccination?") == ["parking", "vaccination"]


@pytest.mark.parametrize(("subject", "words"), [
    # Runs of one script made fragments of these: "一度送", "一人暮".
    ("分別の表をもう一度送ってほしい", ["分別"]),
    ("一人暮らしの母の見守りをお願いしたい", ["一人暮らし", "見守り"]),
    ("固定資産税の納付書をなくした", ["固定資産税", "納付書"]),
    ("接種会場までの送迎はあるか", ["接種会場", "接種", "会場", "送迎"]),
    ("二回目の接種の時期を知りたい", ["接種"]),
    ("そのことについて", []),
])
def test_topics_are_words_a_dictionary_knows_not_fragments(subject, words):
    assert topic_words(subject) == words


def test_a_topic_lists_the_inquiries_behind_it(db_session):
    first = case(db_session, at=jst(6, 9), category="waste", subject="粗大ごみの出し方")
    second = case(db_session, at=jst(6, 10), category="waste", subject="粗大ごみの料金")
    report = inquiry_analytics.analyse(
        db_session, ReportChoice(date(2031, 10, 6), date(2031, 10, 6)), TOKYO, NOW)
    top = report.topics[0]
    assert (top.word, top.count) == ("粗大ごみ", 2)
    assert top.cases == ((first.id, first.reference), (second.id, second.reference))


def test_frequent_topics_count_each_inquiry_once_per_word_within_its_category(db_session):
    case(db_session, at=jst(6, 9), category="ごみ", subject="粗大ごみの回収日 回収日")
    case(db_session, at=jst(6, 10), category="ごみ", subject="粗大ごみを出したい")
    case(db_session, at=jst(6, 11), category="道路", subject="粗大ごみが道路に")
    report = inquiry_analytics.analyse(
        db_session, ReportChoice(date(2031, 10, 6), date(2031, 10, 6)), TOKYO, NOW)
    top = [(topic.category, topic.word, topic.count) for topic in report.topics]
    assert top[0] == ("ごみ", "粗大ごみ", 2)
    assert ("ごみ", "回収日", 1) in top and ("道路", "粗大ごみ", 1) in top
    assert report.topics[0].example == "粗大ごみの回収日 回収日"


def test_open_and_overdue_are_as_of_now_over_all_inquiries(db_session):
    case(db_session, at=jst(1, 9), category="ごみ", due=NOW - timedelta(hours=1))
    case(db_session, at=jst(1, 9), category="ごみ", status="in_progress",
         due=NOW + timedelta(days=1))
    case(db_session, at=jst(1, 9), category="道路", status="done", closed=jst(2, 9),
         due=NOW - timedelta(days=5))
    case(db_session, at=jst(1, 9), category="道路")
    report = inquiry_analytics.analyse(
        db_session, ReportChoice(date(2031, 10, 19), date(2031, 10, 19)), TOKYO, NOW)
    assert report.received == 0
    assert [(item.category, item.open, item.overdue) for item in report.open_cases] == [
        ("ごみ", 2, 1), ("道路", 1, 0)]
    assert (report.open_total, report.overdue_total) == (3, 1)


def test_response_time_runs_to_the_first_staff_entry_after_logging(db_session, operator_id):
    minutes = timedelta(minutes=1)
    # Logged by an operator at the console: the "created" entry is not a response.
    case(db_session, at=jst(6, 9), events=[(90 * minutes, "status", operator_id),
                                           (200 * minutes, "note", operator_id)])
    # Left by voicemail: the first note by staff is the response.
    case(db_session, at=jst(6, 10), events=[(30 * minutes, "note", operator_id),
                                            (120 * minutes, "status", operator_id)])
    case(db_session, at=jst(6, 11), events=[(10 * minutes, "note", None)])  # not staff
    case(db_session, at=jst(6, 12), events=[(60 * minutes, "public_update", operator_id)])
    report = inquiry_analytics.analyse(
        db_session, ReportChoice(date(2031, 10, 6), date(2031, 10, 6)), TOKYO, NOW)
    response = report.response
    assert (response.count, response.pending) == (3, 1)
    assert response.median_seconds == 60 * 60
    assert response.mean_seconds == (90 + 30 + 60) / 3 * 60
    assert response.p90_seconds == 90 * 60


def test_resolution_time_runs_from_receipt_to_done(db_session):
    case(db_session, at=jst(6, 9), status="done", closed=jst(7, 9))
    case(db_session, at=jst(6, 9), status="done", closed=jst(6, 11))
    case(db_session, at=jst(6, 9), status="in_progress")
    report = inquiry_analytics.analyse(
        db_session, ReportChoice(date(2031, 10, 6), date(2031, 10, 6)), TOKYO, NOW)
    resolution = report.resolution
    assert (resolution.count, resolution.pending) == (2, 1)
    assert resolution.median_seconds == (24 + 2) / 2 * 3600
    assert resolution.p90_seconds == 24 * 3600


def test_no_inquiries_gives_empty_times_not_an_error(db_session):
    report = inquiry_analytics.analyse(
        db_session, ReportChoice(date(2031, 10, 6), date(2031, 10, 6)), TOKYO, NOW)
    assert report.response.median_seconds is None and report.resolution.count == 0


def test_a_reversed_range_or_unknown_granularity_is_refused(db_session):
    with pytest.raises(AnalyticsError) as reversed_range:
        inquiry_analytics.analyse(
            db_session, ReportChoice(date(2031, 10, 7), date(2031, 10, 6)), TOKYO, NOW)
    assert reversed_range.value.key == "range_reversed"
    with pytest.raises(AnalyticsError) as unknown:
        inquiry_analytics.analyse(
            db_session, ReportChoice(date(2031, 10, 6), date(2031, 10, 6), "month"), TOKYO, NOW)
    assert unknown.value.key == "granularity_unknown"


def test_the_database_aggregates_give_the_numbers_of_the_definitions_over_every_inquiry(
        db_session, operator_id):
    import random

    from agent_console.services.inquiry_analytics import bucket_of, duration_stats

    rng = random.Random(15)
    made = []
    for _ in range(120):
        at = jst(1, 0) + timedelta(seconds=rng.randrange(27 * 86400))
        closed = at + timedelta(seconds=rng.randrange(1, 200_000)) if rng.random() < 0.7 else None
        first = timedelta(seconds=rng.randrange(60, 90_000)) if rng.random() < 0.8 else None
        events = [(first, "status", operator_id), (first * 2, "note", operator_id)] if first \
            else []
        made.append((case(db_session, at=at, category=rng.choice("ABCDEFGHIJK"),
                          status="done" if closed else "received", closed=closed, events=events),
                     first))
    choice = ReportChoice(date(2031, 10, 3), date(2031, 10, 24), "week")
    report = inquiry_analytics.analyse(db_session, choice, TOKYO, NOW)

    chosen = [(item, first) for item, first in made
              if choice.first_day <= item.created_at.astimezone(TOKYO).date() <= choice.last_day]
    assert report.received == len(chosen)
    for week in report.buckets:
        assert report.bucket_total(week) == sum(
            1 for item, _ in chosen
            if bucket_of(item.created_at.astimezone(TOKYO).date(), "week") == week)
    responses = [first.total_seconds() for _, first in chosen if first]
    resolutions = [(item.closed_at - item.created_at).total_seconds()
                   for item, _ in chosen if item.closed_at]
    for got, expected in ((report.response, duration_stats(responses, len(chosen) - len(
            responses))), (report.resolution, duration_stats(resolutions, len(chosen) - len(
                resolutions)))):
        assert (got.count, got.pending) == (expected.count, expected.pending)
        assert got.median_seconds == pytest.approx(expected.median_seconds, abs=0.001)
        assert got.mean_seconds == pytest.approx(expected.mean_seconds, abs=0.001)
        assert got.p90_seconds == pytest.approx(expected.p90_seconds, abs=0.001)


def test_topics_are_read_from_the_latest_inquiries_when_the_range_has_more_than_the_bound(
        db_session, monkeypatch):
    monkeypatch.setattr(inquiry_analytics, "TOPIC_SAMPLE", 2)
    case(db_session, at=jst(6, 9), subject="街灯が消えている")
    case(db_session, at=jst(6, 10), subject="粗大ごみの回収日")
    case(db_session, at=jst(6, 11), subject="粗大ごみを出したい")
    report = inquiry_analytics.analyse(
        db_session, ReportChoice(date(2031, 10, 6), date(2031, 10, 6)), TOKYO, NOW)
    assert (report.received, report.topics_from) == (3, 2)
    assert (report.topics[0].word, report.topics[0].count) == ("粗大ごみ", 2)
    assert "街灯" not in [topic.word for topic in report.topics]
    assert report.topics[0].example == "粗大ごみの回収日"
