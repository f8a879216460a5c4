"""No personal data in logs or job payloads: a slice of real journeys, every log line and every RQ
job in Redis scanned for the caller's number, the resident's birth date and name.

The journeys: a phone booking by resident number and birth date, a holder asking for a callback
that a worker then places and the resident answers, and an operator opening the resident's record
in the console. The app is served by waitress on a real port; the worker is an RQ worker with
forked work horses; every logger (root, rq, waitress, the app's own) writes to one file at DEBUG.
"""

from __future__ import annotations

import contextlib
import logging
import re
import subprocess
import threading
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from rq.job import Job
from sqlalchemy import func, select
from waitress.server import create_server

from agent_console.services import accounts
from call_queue import line_services, operator_states, reminder_texts, reminders
from call_queue.pacing import OutboundPacer
from madoguchi import create_app, phone, sealing
from madoguchi.demo_data import load_demo_data
from madoguchi.job_queues import QUEUE_NAMES
from madoguchi.models import (
    Booking,
    CallbackRequest,
    Inquiry,
    Resident,
    ResidentPhone,
    TextMessage,
    utcnow,
)
from madoguchi.sealing import blind
from madoguchi.serve import open_all_hours
from madoguchi.settings import load_settings
from madoguchi.telephony.clock import VirtualClock
from madoguchi.telephony.engine import WITHHELD_CALLER_ID, CallEngine, CallSetup
from madoguchi.telephony.network import SimulatedNetwork
from madoguchi.telephony.outbound import answer_call
from madoguchi.telephony.script import ScriptCaller, parse_script
from madoguchi.telephony.simulated import SimulatedTelephony, city_number
from madoguchi.worker import AppWorker
from tests import factories
from tests.agent_console.conftest import PASSWORD, login, post, search
from tests.conftest import TEST_AUTH_TOKEN
from tests.madoguchi.telephony.journeys import answer_callback, hold_then_callback, play
from tests.madoguchi.telephony.live_server import free_port

CITY_NUMBER = "+81312345678"
MOBILE = "+819076543210"
RESIDENT_NO = "7731904"
NAME, KANA = "須賀 雪乃", "スガ ユキノ"
BORN = date(1951, 9, 23)

# What must never appear: the number in any common notation, the birth date, the name.
FORBIDDEN = [
    (re.compile(r"\+81\d{9,10}"), "an E.164 phone number"),
    (re.compile(r"(?<![0-9A-Za-z*])0\d{9,10}(?![0-9])"), "a national phone number"),
    (re.compile(r"(?<![0-9A-Za-z*])0\d{1,4}-\d{1,4}-\d{4}(?![0-9])"), "a written phone number"),
    (re.compile(MOBILE[3:]), "the caller's number without its country code"),
    (re.compile(f"{BORN:%Y-%m-%d}|{BORN:%Y%m%d}|{BORN.year}年{BORN.month}月{BORN.day}日"),
     "the birth date"),
    (re.compile(f"{NAME}|{NAME.replace(' ', '')}|{KANA}|{KANA.replace(' ', '')}"), "the name"),
]


def leaks(text: str) -> list[str]:
    """Every forbidden finding in a text, with a little context."""
    found = []
    for pattern, what in FORBIDDEN:
        for match in pattern.finditer(text):
            start = max(0, match.start() - 60)
            found.append(f"{what}: …{text[start:match.end() + 60]}…")
    return found


@dataclass
class Line:
    """The served app and a simulated phone network calling it."""

    app: object
    base_url: str
    engine: CallEngine
    network: SimulatedNetwork

    def call(self, script: str, from_number: str):
        """One call played from a journey script; fails the test on the script's complaint."""
        return play(self.engine, CallSetup(
            url=f"{self.base_url}/voice/incoming", from_number=from_number,
            to_number=CITY_NUMBER, status_callback=f"{self.base_url}/voice/status"), script)


@pytest.fixture
def log_file(tmp_path) -> Iterator[Path]:
    """Every log record of this process and its forked work horses, at DEBUG, in one file."""
    path = tmp_path / "all.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    # Loggers that do not pass records on to the root get the handler themselves.
    isolated = [logger for logger in logging.root.manager.loggerDict.values()
                if isinstance(logger, logging.Logger) and not logger.propagate]
    for logger in isolated:
        logger.addHandler(handler)
    try:
        yield path
    finally:
        for logger in [root, *isolated]:
            logger.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()


@pytest.fixture
def line(base_env, committed_db, redis_client, log_file) -> Iterator[Line]:
    """The app served by waitress on a free port, open all hours, on the test backends."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    app = create_app(open_all_hours(load_settings(env={**base_env,
                                                       "PUBLIC_BASE_URL": base_url})))
    server = create_server(app, host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    network = SimulatedNetwork(redis_client)
    try:
        yield Line(app, base_url, CallEngine(TEST_AUTH_TOKEN, clock=VirtualClock(),
                                             network=network), network)
    finally:
        server.close()
        thread.join(timeout=5)
        app.extensions["madoguchi_db"].engine.dispose()


@pytest.fixture
def city(committed_db) -> dict[str, int]:
    """Open slots, the resident with a mobile, an operator on duty."""
    with committed_db() as session:
        campaign = factories.campaign(session)
        site = factories.site(session, name="市民会館", name_en="Civic Hall")
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
        for n in range(3):
            factories.slot(session, campaign_id=campaign.id, site_id=site.id,
                           starts_at=start + timedelta(minutes=30 * n), capacity=2)
        resident = factories.resident(session, resident_no=RESIDENT_NO, name=NAME,
                                      name_kana=KANA, birth_date=BORN, phone=MOBILE)
        operator = accounts.create_operator(session, username="desk-1", display_name="窓口 一",
                                            password=PASSWORD, role="operator", language="ja")
        session.commit()
        return {"resident_id": resident.id, "operator_id": operator.id}


def rq_job_payloads(redis_client) -> str:
    """Every RQ job hash in Redis: its fields, its decompressed call data, args and kwargs."""
    parts = []
    for key in redis_client.scan_iter("rq:job:*"):
        if redis_client.type(key) != b"hash":
            continue
        fields = redis_client.hgetall(key)
        for name, value in fields.items():
            if name == b"data":
                with contextlib.suppress(zlib.error):
                    value = zlib.decompress(value)
            parts.append(f"{key!r} {name!r}: {value.decode('utf-8', 'replace')}")
        job_id = key.decode().removeprefix("rq:job:")
        try:
            job = Job.fetch(job_id, connection=redis_client)
            parts.append(f"{job_id}: {job.description} {job.args!r} {job.kwargs!r}")
        except Exception as exc:  # a job whose function cannot be imported is still scanned raw
            parts.append(f"{job_id}: unreadable ({exc})")
    return "\n".join(parts)


def test_journeys_leave_no_phone_number_birth_date_or_name_in_logs_or_job_payloads(
    line, city, committed_db, redis_client, log_file
):
    payloads = []
    # A withheld caller books with resident number and birth date.
    line.call(f"""
        press 1
        press 1
        expect 住民番号
        press {RESIDENT_NO}#
        expect 生年月日
        press {BORN:%Y%m%d}#
        press 1
        press 1
        press 1
        expect ご予約が、確定しました
        hangup
    """, WITHHELD_CALLER_ID)
    # The resident calls from the mobile, holds for a person and asks for a callback.
    session = committed_db()
    with line.app.app_context():
        operator_states.set_state(session, line_services.board(), city["operator_id"], "on_call",
                                  utcnow())
    line.call(hold_then_callback(), MOBILE)
    request = session.scalar(select(CallbackRequest).where(
        blind.matches(CallbackRequest.phone_digest, "phone", MOBILE)))
    session.commit()
    assert request is not None
    # The operator frees; a worker places the callback; the resident answers.
    with line.app.app_context():
        assert line_services.operator_available(session, city["operator_id"])
    payloads.append(rq_job_payloads(redis_client))
    worker = AppWorker(list(QUEUE_NAMES), connection=redis_client, app=line.app,
                       keep_maintenance_scheduled=False)
    worker.work(burst=True, with_scheduler=False)
    [ringing] = line.network.ringing_calls()
    answer_callback(line.engine, ringing)
    session.close()
    # An operator finds the resident by name and opens the record, phones shown.
    console = line.app.test_client()
    assert login(console, "desk-1").status_code == 302
    assert search(console, NAME).status_code == 200
    page = console.get(f"/console/residents/{city['resident_id']}")
    assert page.status_code == 200 and NAME in page.get_data(as_text=True)
    post(console, f"/console/residents/{city['resident_id']}/reveal")
    payloads.append(rq_job_payloads(redis_client))

    logs = log_file.read_text(encoding="utf-8")
    # The capture saw the app's own records and the worker's (the horse's are forked children).
    assert "madoguchi.calls" in logs and "+81******3210" in logs, "the app's log is missing"
    assert "rq.worker" in logs, "the worker's log is missing"
    found = leaks(logs)
    assert not found, "personal data in the logs:\n" + "\n".join(found[:20])
    jobs_seen = "\n".join(payloads)
    assert "rq:job:" in jobs_seen, "no RQ job was seen in Redis"
    found = leaks(jobs_seen)
    assert not found, "personal data in RQ job payloads:\n" + "\n".join(found[:20])


def test_the_scan_finds_each_notation_and_lets_masked_numbers_pass():
    text = "\n".join(["from +819076543210", "tel 090-7654-3210", "tel 09076543210",
                      f"born {BORN:%Y-%m-%d}", f"name {NAME}", f"kana {KANA}"])
    assert len(leaks(text)) >= 6
    assert leaks("call CA0123456789abcdef from +81******3210, sid SM09012345678x") == []


# --- the database itself, as a thief, a backup or a dump would hand it over -----------------

DEMO_RESIDENTS = 200
_BOUNDED_NUMBER = re.compile(r"(?<![A-Za-z0-9_+\-])\+?\d[\d\-]*\d(?![A-Za-z0-9_\-])")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


@dataclass
class Needles:
    """Every form in which a resident's data must not appear, split by how it is searched."""

    words: set[str]
    numbers: set[str]

    def add_resident(self, name: str, kana: str, born: date, resident_no: str,
                     phones: list[str]) -> None:
        """The name and kana (with and without spaces), birth date, number and phones."""
        self.words |= {name, name.replace(" ", ""), name.replace(" ", "　"), kana,
                       kana.replace(" ", ""), f"{born.year}年{born.month}月{born.day}日"}
        self.numbers |= {_digits(f"{born:%Y%m%d}"), _digits(resident_no)}
        for e164 in phones:
            national = phone.national(e164)
            self.words |= {national, unicodedata.normalize("NFKC", national).translate(
                str.maketrans("0123456789-", "０１２３４５６７８９－"))}
            self.numbers |= {_digits(e164), _digits(national), _digits(e164)[2:]}


def findings(raw: str, needles: Needles) -> list[str]:
    """Every needle found in the text: words anywhere, numbers as whole runs of digits."""
    found = [f"{word!r}" for word in needles.words if word in raw]
    normal = unicodedata.normalize("NFKC", raw)
    for match in _BOUNDED_NUMBER.finditer(normal):
        if _digits(match.group()) in needles.numbers:
            start = max(0, match.start() - 40)
            found.append(f"{match.group()!r} in …{normal[start:match.end() + 40]!r}…")
    return found


def raw_database(engine) -> str:
    """The database as stored: SQLite's files byte for byte (WAL included), or a pg_dump."""
    if engine.dialect.name == "sqlite":
        path = Path(engine.url.database)
        parts = [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")]
        return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in parts if p.exists())
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    dump = subprocess.run(["pg_dump", "--no-owner", url], capture_output=True, text=True,
                          check=True, timeout=120)
    return dump.stdout


@pytest.fixture
def demo_city(committed_db, settings, base_env) -> dict:
    """The demo city (a smaller register), plus the journey's resident and an operator."""
    with committed_db() as session:
        load_demo_data(session, open_all_hours(settings), residents=DEMO_RESIDENTS)
        resident = factories.resident(session, resident_no=RESIDENT_NO, name=NAME,
                                      name_kana=KANA, birth_date=BORN, phone=MOBILE)
        operator = accounts.create_operator(session, username="desk-1", display_name="窓口 一",
                                            password=PASSWORD, role="operator", language="ja")
        session.commit()
        people = session.execute(select(Resident.id, Resident.name, Resident.name_kana,
                                        Resident.birth_date, Resident.resident_no)).all()
        phones: dict[int, list[str]] = {}
        for resident_id, e164 in session.execute(select(ResidentPhone.resident_id,
                                                        ResidentPhone.e164)):
            phones.setdefault(resident_id, []).append(e164)
    needles = Needles(set(), set())
    for resident_id, name, kana, born, number in people:
        needles.add_resident(name, kana, born, number, phones.get(resident_id, []))
    return {"resident_id": resident.id, "operator_id": operator.id, "needles": needles,
            "residents": len(people)}


def test_after_the_demo_city_and_real_journeys_the_stored_database_names_nobody(
        line, demo_city, committed_db, engine, redis_client):
    assert demo_city["residents"] == DEMO_RESIDENTS + 1
    session = committed_db()
    # A withheld caller books with resident number and birth date.
    line.call(f"""
        press 1
        press 1
        expect 住民番号
        press {RESIDENT_NO}#
        expect 生年月日
        press {BORN:%Y%m%d}#
        press 1
        press 1
        press 1
        expect ご予約が、確定しました
        hangup
    """, WITHHELD_CALLER_ID)
    # The resident calls from the mobile while nobody can answer and leaves a message.
    line.call("""
        press 1
        press 0
        expect 伝言
        press 2
        expect 録音
        say 須賀雪乃です。09076543210に電話をください。
        expect 承りました
        hangup
    """, MOBILE)
    # Then holds for a person and asks for a callback, which a worker places.
    with line.app.app_context():
        operator_states.set_state(session, line_services.board(), demo_city["operator_id"],
                                  "on_call", utcnow())
    session.commit()
    line.call(hold_then_callback(), MOBILE)
    with line.app.app_context():
        assert line_services.operator_available(session, demo_city["operator_id"])
    session.commit()
    worker = AppWorker(list(QUEUE_NAMES), connection=redis_client, app=line.app,
                       keep_maintenance_scheduled=False)
    worker.work(burst=True, with_scheduler=False)
    [ringing] = line.network.ringing_calls()
    answer_callback(line.engine, ringing)
    # An operator searches by name, opens the record, logs an inquiry and texts the resident.
    console = line.app.test_client()
    assert login(console, "desk-1").status_code == 302
    assert NAME in search(console, "須賀").get_data(as_text=True)
    assert console.get(f"/console/residents/{demo_city['resident_id']}").status_code == 200
    created = post(console, "/console/inquiries/new", {
        "category": "other", "subject": f"{NAME}さん ({BORN:%Y-%m-%d}生) から街灯の件",
        "note": f"{KANA} 様、090-7654-3210 へ折り返し", "contact_phone": "090-7654-3210",
        "resident_id": demo_city["resident_id"], "assigned_to": 0})
    assert created.status_code == 302
    mobile_id = session.scalar(select(ResidentPhone.id).where(
        ResidentPhone.resident_id == demo_city["resident_id"]))
    session.commit()
    sent = post(console, f"/console/residents/{demo_city['resident_id']}/sms",
                {"phone_id": mobile_id, "kind": "text", "text": f"{NAME}様 書類をお持ちください"})
    assert sent.status_code == 302
    session.close()

    # Every journey left its trace, readable through the application...
    with committed_db() as check:
        assert check.scalar(select(func.count()).select_from(Booking).where(
            Booking.resident_id == demo_city["resident_id"])) == 1
        kinds = {case.category for case in check.scalars(select(Inquiry).where(
            Inquiry.resident_id.is_(None) | (Inquiry.resident_id == demo_city["resident_id"])))}
        assert {"voicemail", "other"} <= kinds
        assert any(request.phone_e164 == MOBILE for request in check.scalars(
            select(CallbackRequest)))
        assert check.scalar(select(func.count()).select_from(TextMessage)) == 1
    # ...and none of it, nor any demo resident, readable in the stored database.
    raw = raw_database(engine)
    assert "s1:t1:" in raw and len(raw) > 100_000, "the scan did not see the sealed data"
    found = findings(raw, demo_city["needles"])
    assert not found, "personal data stored in clear:\n" + "\n".join(sorted(found)[:30])


def test_the_database_scan_finds_every_form_of_a_number_and_lets_sealed_values_pass():
    needles = Needles(set(), set())
    needles.add_resident(NAME, KANA, BORN, RESIDENT_NO, [MOBILE])
    planted = ["+819076543210", "09076543210", "090-7654-3210", "０９０－７６５４－３２１０",
               "9076543210", NAME, KANA.replace(" ", ""), f"{BORN:%Y%m%d}", f"{BORN:%Y-%m-%d}",
               f"{BORN.year}年{BORN.month}月{BORN.day}日", f",{RESIDENT_NO},"]
    for value in planted:
        assert findings(f"INSERT VALUES ('{value}');", needles), value
    sealed = sealing.current().seal(MOBILE.encode(), "calls.from_e164")
    assert findings(f"'{sealed}', 'x1:a9076543210b', CA1954092309076543210", needles) == []


LANDLINE = "+81355501234"
# A reminder names the resident by family name only — and that only to the resident.
FAMILY = [(re.compile("須賀|スガ|Suga"), "the family name")]


def test_reminders_by_text_and_by_call_leave_no_family_name_nor_number_in_logs_or_jobs(
    line, committed_db, redis_client, log_file
):
    settings = line.app.config["SETTINGS"]
    with committed_db() as session:
        today = datetime.now(settings.tz).date()
        starts = datetime.combine(today + timedelta(days=1), datetime.min.time().replace(
            hour=10, minute=30), settings.tz)
        campaign = factories.campaign(session)
        site = factories.site(session, name="市民会館", name_en="Civic Hall")
        slot = factories.slot(session, campaign_id=campaign.id, site_id=site.id,
                              starts_at=starts, booked_count=2)
        at_home = factories.resident(session, phone=LANDLINE, name=NAME, name_kana=KANA,
                                     birth_date=BORN, resident_no=RESIDENT_NO)
        on_mobile = factories.resident(session, phone=MOBILE, name="須賀 健", name_kana="スガ ケン",
                                       language="en")
        bookings = [Booking(reference=reference, slot_id=slot.id, campaign_id=campaign.id,
                            resident_id=resident.id, status="confirmed", channel="ivr")
                    for reference, resident in (("9123457", at_home), ("9123458", on_mobile))]
        session.add_all(bookings)
        session.commit()
        noon = datetime.combine(today, datetime.min.time().replace(hour=12), settings.tz)
        telephony = SimulatedTelephony(line.network, city_number(settings))
        for kept in bookings:
            assert reminders.send_reminder(
                session, kept.id, settings=settings, telephony=telephony,
                pacer=OutboundPacer(redis_client, 100.0),
                sms_text=lambda booked: reminder_texts.sms_text(settings, booked), now=noon)
    [text] = line.network.messages(MOBILE)
    assert "Suga" in text.body  # the resident is named to themselves
    ringing = line.network.pick_up(LANDLINE)
    assert ringing is not None
    answered = ScriptCaller(parse_script("expect スガ様\npress 5\nexpect スガ様\npress 1\n"
                                         "expect 取り消しました\nhangup"))
    answer_call(line.engine, ringing, "human", answered)
    answered.call_ended()
    assert answered.failure is None, answered.failure

    logs = log_file.read_text(encoding="utf-8")
    assert "call_queue.reminders" in logs, "the reminders' log is missing"
    found = leaks(logs) + [f"{what}: {m.group(0)}" for pattern, what in FAMILY
                           for m in pattern.finditer(logs)]
    assert not found, "personal data in the logs:\n" + "\n".join(found[:20])
    jobs = rq_job_payloads(redis_client)
    found = leaks(jobs) + [what for pattern, what in FAMILY if pattern.search(jobs)]
    assert not found, "personal data in RQ job payloads:\n" + "\n".join(found[:20])
