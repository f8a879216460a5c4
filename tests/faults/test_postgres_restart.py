"""PostgreSQL restarts during calls: an apology instead of an error, whole bookings, reconnection.

The app runs in its own waitress process on a private PostgreSQL cluster that the test stops
and starts (the shared server is never touched), with a private redis-server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from madoguchi import booking
from madoguchi.db import make_engine
from madoguchi.migrate import upgrade
from madoguchi.models import Base, Booking
from tests import factories
from tests.conftest import TEST_API_TOKEN
from tests.faults.conftest import WEBHOOK_SECONDS, http_caller, is_twiml, signed_post
from tests.faults.processes import PostgresCluster, private_postgres

RESIDENT_NO, BIRTH = "123456", "19480517"
API_RESIDENTS = 40


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    """A private, migrated PostgreSQL cluster for this module (skipped when none can run)."""
    try:
        cluster = private_postgres()
    except RuntimeError as exc:
        pytest.skip(f"no private PostgreSQL cluster can be started here: {exc}")
    engine = make_engine(cluster.url)
    upgrade(engine)
    engine.dispose()
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def city(postgres) -> Iterator[dict]:
    """One campaign with two large slots, the phone caller and residents for the API."""
    engine = make_engine(postgres.url)
    with Session(engine) as session:
        campaign = factories.campaign(session)
        site = factories.site(session)
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
        slots = [factories.slot(session, campaign_id=campaign.id, site_id=site.id,
                                starts_at=start + timedelta(minutes=30 * n), capacity=100)
                 for n in range(2)]
        factories.resident(session, resident_no=RESIDENT_NO, phone="+819011112222")
        others = [factories.resident(session).resident_no for _ in range(API_RESIDENTS)]
        session.commit()
        made = {"slot_ids": [slot.id for slot in slots], "api_residents": others}
    try:
        yield made
    finally:
        names = ", ".join(table.name for table in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        engine.dispose()


def _bookings(url: str) -> tuple[list[tuple[str, str]], list]:
    """(reference, status) of every booking, and what reconcile finds wrong with the counts."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            rows = session.execute(select(Booking.reference, Booking.status)).all()
            return [tuple(row) for row in rows], booking.reconcile(session)
    finally:
        engine.dispose()


def test_while_postgresql_restarts_callers_hear_an_apology_and_the_app_reconnects_by_itself(
        postgres, city, start_web):
    web = start_web(DATABASE_URL=postgres.url)
    caller = http_caller(web, "+819011112222")
    caller.dial()
    caller.press("1")  # 日本語
    caller.press("1")  # to book
    caller.press(BIRTH + "#")  # known by caller ID: only the birth date
    offered = caller.press("1")  # that is me
    assert "1を押してください" in offered.text, offered.text

    postgres.stop("immediate")  # a crash: connections are cut, not closed
    try:
        sorry = caller.press("1")
        assert sorry.status == 200 and "申し訳" in sorry.text, sorry.text
        assert sorry.root.find("Redirect").text.endswith("/voice/fallback")
        line = [signed_post(web, path, CallSid="CA" + "5" * 32, DialCallStatus="no-answer",
                            AnsweredBy="human", Digits="1")
                for path in ("/voice/queue/bridge?call=1", "/voice/queue/bridged?call=1",
                             "/voice/callback/answer?attempt=1",
                             "/voice/callback/bridged?attempt=1",
                             "/voice/reminder/answer?reminder=1",
                             "/voice/reminder/choice?reminder=1",
                             "/voice/queue/wait?l=ja", "/voice/fallback")]
        assert [is_twiml(response) for response in line] == [True] * len(line)
        message = signed_post(web, "/voice/fallback/message", CallSid="CA" + "6" * 32,
                              From="+819033334444",
                              RecordingUrl="https://api.twilio.com/recordings/RE1",
                              RecordingDuration="12")
        assert is_twiml(message)
        slow = [seconds for _, seconds in caller.client.timings if seconds > WEBHOOK_SECONDS]
        slow += [r.seconds for r in [*line, message] if r.seconds > WEBHOOK_SECONDS]
        assert slow == []
    finally:
        postgres.start()

    again = caller.repeat_last()  # Twilio's retry, or the caller pressing again
    assert "お取りします" in again.text, again.text
    done = caller.press("1")
    assert "ご予約が、確定しました" in done.text, done.text
    rows, discrepancies = _bookings(postgres.url)
    assert [status for _, status in rows] == ["confirmed"]
    assert discrepancies == []


def test_bookings_made_while_postgresql_restarts_are_whole_or_absent(postgres, city, start_web):
    web = start_web(DATABASE_URL=postgres.url)
    answered: list[tuple[int, str | None]] = []

    def book_all() -> None:
        for n, resident_no in enumerate(city["api_residents"]):
            body = {"slot_id": city["slot_ids"][n % 2], "resident_no": resident_no,
                    "birth_date": "1948-05-17"}
            try:
                response = requests.post(
                    web.base_url + "/api/bookings", json=body, timeout=10,
                    headers={"Authorization": f"Bearer {TEST_API_TOKEN}"})
                reference = response.json().get("reference") if response.ok else None
                answered.append((response.status_code, reference))
            except requests.RequestException:
                answered.append((0, None))
            time.sleep(0.02)

    booker = threading.Thread(target=book_all)
    booker.start()
    while len(answered) < API_RESIDENTS // 4:
        time.sleep(0.01)
    postgres.stop("immediate")
    time.sleep(0.5)
    postgres.start()
    booker.join(timeout=120)

    statuses = [status for status, _ in answered]
    assert any(status not in (200, 201) for status in statuses)  # the restart was felt
    assert statuses[-1] == 201  # and the app came back by itself
    rows, discrepancies = _bookings(postgres.url)
    assert discrepancies == []  # every taken place has its booking row, and no row lacks one
    made = {reference for status, reference in answered if reference}
    assert made <= {reference for reference, status in rows if status == "confirmed"}
    engine = make_engine(postgres.url)
    with Session(engine) as session:
        per_resident = session.execute(
            select(Booking.resident_id, func.count()).group_by(Booking.resident_id)
            .having(func.count() > 1)).all()
    engine.dispose()
    assert per_resident == []
