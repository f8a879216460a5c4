"""The demo city: believable, complete, deterministic, and exact in its counts."""

from __future__ import annotations

import re
import time as clock
from collections import Counter
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from madoguchi import booking
from madoguchi.demo_data import (
    DEMO_USERS,
    DemoDataError,
    database_is_empty,
    load_demo_data,
)
from madoguchi.demo_names import (
    FEMALE_GIVEN_NAMES,
    FOREIGN_GIVEN_NAMES,
    FOREIGN_SURNAMES,
    MALE_GIVEN_NAMES,
    SURNAMES,
)
from madoguchi.models import (
    Base,
    Booking,
    Campaign,
    FaqEntry,
    Inquiry,
    Operator,
    Resident,
    Site,
    Slot,
    utcnow,
)
from tests import factories

KATAKANA_NAME = re.compile(r"[\u30a0-\u30ff]+ [\u30a0-\u30ff]+")


def local_today(settings) -> date:
    return utcnow().astimezone(settings.tz).date()


@pytest.fixture
def tomorrow(settings) -> date:
    """A first day whose every slot is still in the future."""
    return local_today(settings) + timedelta(days=1)


@pytest.fixture
def demo(db_session, settings, tomorrow):
    """A small demo city starting tomorrow."""
    return load_demo_data(db_session, settings, residents=300, today=tomorrow)


def snapshot(session) -> dict:
    """Everything the seed decides, without the random reference codes and ids."""
    residents = {
        r.resident_no: (r.name, r.name_kana, r.birth_date, r.language,
                        sorted(p.e164 for p in r.phones))
        for r in session.scalars(select(Resident))
    }
    bookings = sorted(
        (b.resident.resident_no, b.slot.starts_at, b.slot.site.code, b.status, b.channel)
        for b in session.scalars(select(Booking))
    )
    cases = sorted(
        (i.category, i.subject, i.status, i.resident.resident_no if i.resident else "",
         [(e.kind, e.text, e.public) for e in i.events])
        for i in session.scalars(select(Inquiry))
    )
    slots = sorted((s.site.code, s.starts_at, s.capacity) for s in session.scalars(select(Slot)))
    staff = sorted((o.username, o.role) for o in session.scalars(select(Operator)))
    return {"residents": residents, "bookings": bookings, "cases": cases, "slots": slots,
            "staff": staff}


def wipe(session) -> None:
    """Empty every table, and forget the objects loaded before: the next load reuses their ids.

    (Core DELETEs do not touch the session's identity map, and the test sessions keep objects
    after commit, so without expunge_all() SQLAlchemy would find a stale object under a new
    row's id and warn.)
    """
    for table in reversed(Base.metadata.sorted_tables):
        session.execute(table.delete())
    session.commit()
    session.expunge_all()


def test_an_empty_database_is_recognised_and_a_filled_one_is_not(db_session):
    assert database_is_empty(db_session)

    factories.resident(db_session)

    assert not database_is_empty(db_session)


def test_the_demo_city_has_one_campaign_and_two_sites_with_english_names_and_addresses(
    db_session, demo
):
    campaigns = list(db_session.scalars(select(Campaign)))
    assert [(c.name, c.name_en, c.active) for c in campaigns] == [
        ("新型コロナワクチン 秋接種", "COVID-19 autumn vaccination", True)
    ]
    sites = list(db_session.scalars(select(Site).order_by(Site.id)))
    assert [s.name for s in sites] == ["市民会館", "中央公民館"]
    assert all(s.name_en and s.address for s in sites)


def test_slots_cover_two_weeks_every_day_from_nine_to_five_local_time(
    db_session, settings, demo, tomorrow
):
    slots = list(db_session.scalars(select(Slot)))
    length = settings.booking.slot_minutes
    per_day = (17 - 9) * 60 // length
    assert len(slots) == 14 * per_day * 2
    assert demo.slots == len(slots)
    local = [s.starts_at.astimezone(settings.tz) for s in slots]
    assert {t.date() for t in local} == {tomorrow + timedelta(days=d) for d in range(14)}
    assert min(t.time() for t in local) == time(9, 0)
    assert max(t.time() for t in local) == (
        datetime.combine(tomorrow, time(17, 0)) - timedelta(minutes=length)
    ).time()
    assert {(s.capacity, s.length_minutes) for s in slots} == {
        (settings.booking.slot_capacity, length)
    }


def test_a_demo_started_today_offers_only_slots_still_to_come(db_session, settings):
    before = utcnow()

    load_demo_data(db_session, settings, residents=50)

    starts = list(db_session.scalars(select(Slot.starts_at)))
    assert starts and all(start > before for start in starts)


def test_residents_have_japanese_names_with_their_matching_katakana_readings(db_session, demo):
    readings = {
        **dict(SURNAMES), **dict(FEMALE_GIVEN_NAMES), **dict(MALE_GIVEN_NAMES),
        **dict(FOREIGN_SURNAMES), **dict(FOREIGN_GIVEN_NAMES),
    }
    people = list(db_session.scalars(select(Resident)))
    assert len(people) == demo.residents == 300
    for person in people:
        surname, given = person.name.split(" ")
        assert person.name_kana == f"{readings[surname]} {readings[given]}", person.name
        assert KATAKANA_NAME.fullmatch(person.name_kana)
        assert person.resident_no.isdigit()  # keyed in on the phone's keypad


def test_two_thousand_residents_load_in_seconds_in_the_promised_proportions(
    db_session, settings, tomorrow
):
    started = clock.monotonic()
    summary = load_demo_data(db_session, settings, today=tomorrow)
    elapsed = clock.monotonic() - started

    people = list(db_session.scalars(select(Resident)))
    assert len(people) == 2000
    with_phone = [p for p in people if p.phones]
    assert 0.62 <= len(with_phone) / 2000 <= 0.78
    mobiles = [ph for p in with_phone for ph in p.phones if ph.is_mobile]
    landlines = [ph for p in with_phone for ph in p.phones if not ph.is_mobile]
    assert mobiles and landlines
    assert {ph.e164[:5] for ph in mobiles} == {"+8190", "+8180", "+8170"}
    assert 0.02 <= sum(p.language == "en" for p in people) / 2000 <= 0.09
    assert sum(1930 <= p.birth_date.year <= 1960 for p in people) / 2000 >= 0.8
    assert summary.with_phone == len(with_phone)
    assert elapsed < 30, f"loading took {elapsed:.1f}s"


def test_console_users_include_operators_a_supervisor_and_an_admin_with_hashed_passwords(
    db_session, demo
):
    roles = Counter(role for _, _, role in DEMO_USERS)
    assert roles["operator"] >= 2 and roles["supervisor"] >= 1 and roles["admin"] >= 1
    for username, password, role in DEMO_USERS:
        user = db_session.scalar(select(Operator).where(Operator.username == username))
        assert user.role == role and user.active
        assert user.password_hash != password
        assert check_password_hash(user.password_hash, password)


def test_about_a_third_of_the_first_days_places_are_booked_some_cancelled_and_counts_reconcile(
    db_session, settings, demo, tomorrow
):
    assert booking.reconcile(db_session) == []
    first_days = {tomorrow + timedelta(days=d) for d in range(3)}
    counts = booking.slot_counts(db_session)
    early = [c for c in counts if c.starts_at.astimezone(settings.tz).date() in first_days]
    later = [c for c in counts if c not in early]
    share = sum(c.booked for c in early) / sum(c.capacity for c in early)
    assert 0.15 <= share <= 0.45
    assert sum(c.booked for c in later) == 0
    assert sum(c.cancelled for c in counts) == demo.cancelled > 0
    assert sum(c.confirmed for c in counts) == demo.booked
    assert all(c.booked <= c.capacity for c in counts)
    channels = {b.channel for b in db_session.scalars(select(Booking))}
    assert channels == {"ivr", "operator", "api"}


def test_forty_inquiries_in_several_categories_with_timelines_and_public_updates(
    db_session, demo
):
    cases = list(db_session.scalars(select(Inquiry)))
    assert len(cases) == 40
    assert {c.category for c in cases} >= {"vaccination", "waste", "roads", "tax", "welfare"}
    assert {c.status for c in cases} == {"received", "in_progress", "done"}
    assert sum(demo.inquiries.values()) == 40
    for case in cases:
        assert case.events[0].kind == "created"
        assert [e.at for e in case.events] == sorted(e.at for e in case.events)
        if case.status == "done":
            assert case.closed_at is not None
            assert any(e.public for e in case.events)
        if case.status != "received":
            assert case.assigned_to_id is not None
            assert next(e.text for e in case.events if e.kind == "status") == "in_progress"


def test_the_faq_answers_in_japanese_and_english_in_short_sentences_for_the_ear(
    db_session, demo
):
    entries = list(db_session.scalars(select(FaqEntry).order_by(FaqEntry.position)))
    assert len(entries) >= 5 and demo.faq_entries == len(entries)
    titles = {t.title for e in entries for t in e.texts if t.language == "ja"}
    assert {"会場と行き方", "持ち物", "予約の変更・取り消し", "費用", "副反応が出たとき"} <= titles
    for entry in entries:
        texts = {t.language: t for t in entry.texts}
        assert set(texts) == {"ja", "en"}
        for sentence in filter(None, texts["ja"].answer.split("。")):
            assert len(sentence) <= 60, sentence
            assert not re.search(r"\d", sentence), "numbers are written to be read aloud"
        for sentence in filter(None, texts["en"].answer.split(". ")):
            assert len(sentence.split()) <= 30, sentence


def test_the_same_seed_builds_the_same_city_and_another_seed_a_different_one(
    db_session, settings, tomorrow
):
    load_demo_data(db_session, settings, residents=120, today=tomorrow, seed=3)
    first = snapshot(db_session)
    wipe(db_session)
    load_demo_data(db_session, settings, residents=120, today=tomorrow, seed=3)
    again = snapshot(db_session)
    wipe(db_session)
    load_demo_data(db_session, settings, residents=120, today=tomorrow, seed=4)
    other = snapshot(db_session)

    assert again == first
    assert other["residents"] != first["residents"]


def test_the_demo_refuses_a_database_that_already_holds_data(db_session, settings, demo):
    residents_before = db_session.scalar(select(func.count()).select_from(Resident))

    with pytest.raises(DemoDataError, match="empty database"):
        load_demo_data(db_session, settings, residents=10)

    assert db_session.scalar(select(func.count()).select_from(Resident)) == residents_before


def test_the_summary_reads_as_a_short_report(demo):
    text = str(demo)
    assert "COVID-19 autumn vaccination" in text
    assert f"residents: {demo.residents}" in text
    assert "operator1" in text and "supervisor" in text
