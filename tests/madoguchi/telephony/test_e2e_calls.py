"""Whole calls through the simulator against a real server process, database and Redis.

Each call goes over HTTP to the app served by waitress in its own process (see live_server),
signed like Twilio, with the line's status callback and fallback set as a city would set them.
Data is committed, so the server process sees it, and every table is emptied after each test.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from madoguchi import booking
from madoguchi.models import Booking, Call, FaqEntry, FaqText
from madoguchi.telephony.caller import HangUp, LineEvent, Moment, Wait
from madoguchi.telephony.clock import VirtualClock
from madoguchi.telephony.engine import WITHHELD_CALLER_ID, CallEngine, CallResult, CallSetup
from madoguchi.telephony.network import SimulatedNetwork
from madoguchi.telephony.script import ScriptCaller, parse_script
from tests import factories
from tests.conftest import TEST_AUTH_TOKEN

from .live_server import ROOT, LiveServer, live_server  # noqa: F401 (the fixture)

CITY_NUMBER = "+81312345678"
MOBILE = "+819011112222"
RESIDENT_NO = "123456"
BIRTH = "19480517"
JOURNEY_BOOK = ROOT / "docs" / "journey-book.txt"
# The demo resident the example journey books for (number and birth date as in the demo city).
DEMO_RESIDENT_NO = "10023983"
DEMO_BIRTH_DATE = date(1954, 8, 9)
# A silent caller gives the line this many questions before putting the phone down.
SILENT_QUESTIONS = 12


@pytest.fixture
def city(committed_db):
    """A campaign with three future slots at the civic hall, a resident with a mobile, a FAQ."""
    with committed_db() as session:
        campaign = factories.campaign(session)
        site = factories.site(session, name="市民会館", name_en="Civic Hall")
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
        slots = [
            factories.slot(session, campaign_id=campaign.id, site_id=site.id,
                           starts_at=start + timedelta(minutes=30 * n), capacity=2)
            for n in range(3)
        ]
        resident = factories.resident(session, resident_no=RESIDENT_NO, phone=MOBILE)
        entry = FaqEntry(position=0, active=True)
        entry.texts = [
            FaqText(language="ja", title="持ち物", answer="保険証と、予診票を、お持ちください。"),
            FaqText(language="en", title="what to bring", answer="Bring your insurance card."),
        ]
        session.add(entry)
        session.commit()
        return {"resident_id": resident.id, "slot_ids": [slot.id for slot in slots]}


@pytest.fixture
def network(redis_client) -> SimulatedNetwork:
    """The simulated network's ledger on the Redis the server process uses."""
    return SimulatedNetwork(redis_client)


@pytest.fixture
def place_call(live_server, network):  # noqa: F811 (the fixture imported above)
    """Call the city's number from a caller ID; returns the finished call's result."""
    engine = CallEngine(TEST_AUTH_TOKEN, clock=VirtualClock(), network=network)

    def place(caller, from_number: str = "+819012345678") -> CallResult:
        return engine.run(CallSetup(
            url=live_server.url("/voice/incoming"), from_number=from_number,
            to_number=CITY_NUMBER, status_callback=live_server.url("/voice/status"),
            fallback_url=live_server.url("/voice/fallback"),
        ), caller)

    return place


def play(place_call, script: str, from_number: str = "+819012345678") -> CallResult:
    """Play a journey script as one call; fails the test with the script's own complaint."""
    caller = ScriptCaller(parse_script(script))
    result = place_call(caller, from_number)
    caller.call_ended()
    assert caller.failure is None, f"{caller.failure}\n--- the line said:\n{result.spoken}"
    assert result.error_code is None, result.error_message
    return result


def spoken_reference(result: CallResult) -> str:
    """The booking reference the line read out, digits only."""
    match = re.search(r"予約番号は、([0-9 …]+)、です", result.spoken)
    assert match, f"no reference code was read out:\n{result.spoken}"
    return re.sub(r"\D", "", match.group(1))


def call_row(committed_db, result: CallResult) -> Call:
    """The call's record as the server wrote it."""
    with committed_db() as session:
        call = session.scalar(select(Call).where(Call.call_sid == result.call_sid))
        assert call is not None, "the server kept no record of the call"
        return call


def booking_row(committed_db, reference: str) -> Booking | None:
    """The booking with this reference, if the server wrote one."""
    with committed_db() as session:
        return session.scalar(select(Booking).where(Booking.reference == reference))


BOOK_BY_CALLER_ID = f"""
expect みどり市
press 1
expect ご予約の方は、1を
# a dial-pulse phone sends * first to switch to tones
press *1
expect 生年月日
press {BIRTH}#
press 1
expect ご本人を、確認しました
press 1
expect お取りします
press 1
expect 予約番号は
hangup
"""


class SilentCaller:
    """A caller on a dial-pulse phone who cannot press anything and does not speak."""

    def __init__(self) -> None:
        self.questions = 0
        self.heard: list[LineEvent] = []

    def hear(self, event: LineEvent) -> None:
        """Listen."""
        self.heard.append(event)

    def act(self, moment: Moment):
        """Stay silent at every question; put the phone down after a long while."""
        if moment.kind in ("gather", "record"):
            self.questions += 1
            if self.questions > SILENT_QUESTIONS:
                return HangUp()
        return Wait()


def test_a_silent_caller_on_a_pulse_phone_is_called_back_and_never_hung_up_on(
    city, place_call, committed_db
):
    caller = SilentCaller()
    result = place_call(caller)
    assert result.ended_by == "caller"  # only the caller ever ended the call
    assert result.error_code is None
    assert "ボタンが押せない方は、そのまま、お待ちください" in result.spoken
    # Nobody can take the call: the line says it will call back the number shown.
    assert "お声が、聞き取れませんでしたので" in result.spoken
    assert not [e for e in result.heard if e.kind == "error"]
    assert all(request.status == 200 for request in result.requests
               if not request.url.endswith("/voice/status"))
    nodes = [entry["node"] for entry in call_row(committed_db, result).path]
    assert "person" in nodes


def test_star_one_books_a_slot_and_the_code_heard_is_the_booking_made(
    city, place_call, committed_db, network
):
    result = play(place_call, BOOK_BY_CALLER_ID, from_number=MOBILE)
    reference = spoken_reference(result)
    booked = booking_row(committed_db, reference)
    assert booked is not None
    assert booked.status == "confirmed"
    assert booked.resident_id == city["resident_id"]
    assert booked.slot_id == city["slot_ids"][0]
    groups = (reference[:3], reference[3:6], reference[6:])
    read_out = " … ".join(" ".join(group) for group in groups)
    assert result.spoken.count(read_out) == 2  # digit by digit, in groups, said twice
    assert [reference in text.body for text in network.messages(MOBILE)] == [True]
    call = call_row(committed_db, result)
    assert (call.outcome, call.status) == ("booked", "completed")


def test_a_withheld_caller_books_with_resident_number_and_birth_date(
    city, place_call, committed_db
):
    result = play(place_call, f"""
        press 1
        press 1
        expect 住民番号
        press {RESIDENT_NO}#
        expect 生年月日
        press {BIRTH}#
        expect 1948年5月17日
        press 1
        press 1
        press 1
        expect ご予約が、確定しました
        hangup
    """, from_number=WITHHELD_CALLER_ID)
    assert result.requests[0].params["From"] == WITHHELD_CALLER_ID
    booked = booking_row(committed_db, spoken_reference(result))
    assert booked is not None and booked.resident_id == city["resident_id"]
    call = call_row(committed_db, result)
    assert call.from_e164 is None  # a withheld number is not a number
    assert call.outcome == "booked"


def test_a_caller_who_hangs_up_midway_is_recorded_as_abandoned_by_the_status_callback(
    city, place_call, committed_db
):
    result = play(place_call, "press 1\npress 1\nexpect 住民番号\nhangup\n")
    assert result.ended_by == "caller"
    status_posts = [r for r in result.requests if r.url.endswith("/voice/status")]
    assert [(r.params["CallStatus"], r.status) for r in status_posts] == [("completed", 204)]
    call = call_row(committed_db, result)
    assert (call.status, call.outcome) == ("completed", "abandoned")
    assert call.ended_at is not None
    assert call.duration_seconds == result.duration_seconds
    with committed_db() as session:
        assert session.scalars(select(Booking)).all() == []


def test_a_booking_made_by_phone_is_checked_and_cancelled_by_its_reference(
    city, place_call, committed_db
):
    reference = spoken_reference(play(place_call, BOOK_BY_CALLER_ID, from_number=MOBILE))
    result = play(place_call, f"""
        press 1
        expect ご予約の確認や取り消し
        press 2
        press 1
        press {reference}#
        # the number alone, which a neighbour could read off a note, opens nothing
        expect 生年月日
        press 19500101#
        press 1
        expect 見つかりませんでした
        press {BIRTH}#
        press 1
        expect ご予約があります
        press 2
        expect 取り消してよろしければ1
        press 1
        expect ご予約を、取り消しました
        hangup
    """, from_number=WITHHELD_CALLER_ID)
    assert "市民会館" in result.spoken
    assert result.spoken.index("生年月日") < result.spoken.index("ご予約があります")
    assert booking_row(committed_db, reference).status == "cancelled"
    with committed_db() as session:
        [count] = booking.slot_counts(session, slot_ids=city["slot_ids"][:1])
    assert (count.booked, count.cancelled) == (0, 1)


def test_a_booking_is_moved_by_its_reference_from_the_holders_number_and_texted(
    city, place_call, committed_db, network
):
    reference = spoken_reference(play(place_call, BOOK_BY_CALLER_ID, from_number=MOBILE))
    result = play(place_call, f"""
        press 1
        press 2#
        press 1#
        press {reference}#
        # calling from the number on the holder's record: no birth date asked
        expect ご予約があります
        press 1#
        expect 空いている日時
        press 1#
        expect 変更します
        press 1#
        expect ご予約の日時を、変更しました
        hangup
    """, from_number=MOBILE)
    assert "ショートメッセージで、お送りしました" in result.spoken.split("変更しました")[-1]
    assert "生年月日" not in result.spoken
    assert "確認できませんでした" not in result.spoken  # no # of a 1# cost a try
    moved = booking_row(committed_db, reference)
    assert (moved.status, moved.slot_id) == ("confirmed", city["slot_ids"][1])
    booked_text, moved_text = network.messages(MOBILE)
    assert reference in booked_text.body and "変更しました" in moved_text.body
    assert reference in moved_text.body


def test_the_faq_answer_is_heard_from_the_database(city, place_call, committed_db):
    result = play(place_call, """
        press 1
        press 3
        expect 持ち物については、1を
        press 1
        expect 保険証と、予診票を、お持ちください。
        hangup
    """)
    assert call_row(committed_db, result).outcome in ("self_served", "abandoned")


# ---- the `madoguchi phone` command as a process ---------------------------------------------


@pytest.fixture
def demo_resident(committed_db) -> None:
    """The demo city's resident and a free slot, as the example journey expects them."""
    with committed_db() as session:
        campaign = factories.campaign(session)
        site = factories.site(session, name="市民会館", name_en="Civic Hall")
        factories.slot(session, campaign_id=campaign.id, site_id=site.id,
                       starts_at=datetime.now(UTC) + timedelta(days=1))
        factories.resident(session, resident_no=DEMO_RESIDENT_NO, birth_date=DEMO_BIRTH_DATE)
        session.commit()


def run_phone(
    live_server: LiveServer, script: Path, *options: str  # noqa: F811
) -> subprocess.CompletedProcess:
    """`madoguchi phone --script` in its own process, against the live server."""
    return subprocess.run(
        [sys.executable, "-m", "madoguchi.cli", "phone", "--script", str(script), *options],
        env=live_server.env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


def test_the_phone_command_plays_the_example_journey_and_exits_0(
    live_server, demo_resident, committed_db  # noqa: F811
):
    finished = run_phone(live_server, JOURNEY_BOOK)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "✓ script passed" in finished.stdout
    with committed_db() as session:
        assert [b.status for b in session.scalars(select(Booking))] == ["confirmed"]
        call = session.scalars(select(Call)).one()
    assert (call.status, call.outcome) == ("completed", "booked")  # the default status callback


def test_the_phone_command_exits_1_when_an_expected_phrase_is_not_heard(
    live_server, city, tmp_path  # noqa: F811
):
    journey = tmp_path / "journey.txt"
    journey.write_text("press 1\nexpect 本日は混雑しています\n", encoding="utf-8")
    finished = run_phone(live_server, journey)
    assert finished.returncode == 1
    assert "line 2: expected '本日は混雑しています'" in finished.stderr
    assert "ご用件を、お選びください" in finished.stdout


def test_the_phone_command_sends_no_status_callback_when_told_not_to(
    live_server, city, committed_db, tmp_path  # noqa: F811
):
    journey = tmp_path / "journey.txt"
    journey.write_text("press 1\npress 1\nexpect 住民番号\nhangup\n", encoding="utf-8")
    finished = run_phone(live_server, journey, "--status-callback", "")
    assert finished.returncode == 0, finished.stdout + finished.stderr
    with committed_db() as session:
        call = session.scalars(select(Call)).one()
    assert (call.status, call.outcome) == ("in-progress", None)  # nobody told the app it ended
