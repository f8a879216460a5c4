"""A resident who lost their reference number hears their open cases, through the simulator.

The caller identifies themselves with resident number and birth date (or their registered
number and birth date), as for a booking; the line reads each open case, newest first, with its
status and public note, and no one else's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from madoguchi import inquiries
from madoguchi.telephony.engine import WITHHELD_CALLER_ID
from tests import factories

from .live_server import live_server  # noqa: F401 (the fixture)
from .test_e2e_calls import (  # noqa: F401 (fixtures)
    BIRTH,
    MOBILE,
    RESIDENT_NO,
    call_row,
    city,
    network,
    place_call,
    play,
)


@pytest.fixture
def cases(city, committed_db) -> dict[str, str]:  # noqa: F811
    """The resident's cases: an older one received, a newer one in progress with a public note,
    one done; and a neighbour's open case. Returns their references by name."""
    now = datetime.now(UTC)
    with committed_db() as session:
        neighbour = factories.resident(session, resident_no="654321")
        session.commit()

        def case(resident_id: int, days_ago: int, subject: str):
            return inquiries.create(session, category="road", subject=subject, channel="ivr",
                                    resident_id=resident_id, now=now - timedelta(days=days_ago))

        older = case(city["resident_id"], 9, "街灯が消えている")
        newer = case(city["resident_id"], 2, "道路の穴")
        inquiries.set_status(session, newer, "in_progress",
                             public_text="来週、補修工事を行います。")
        done = case(city["resident_id"], 20, "ごみの回収")
        inquiries.set_status(session, done, "done", public_text="回収しました。")
        other = case(neighbour.id, 1, "騒音")
        return {"older": older.reference, "newer": newer.reference, "done": done.reference,
                "other": other.reference}


def spaced(reference: str) -> str:
    """A reference as the line reads it, digit by digit in groups."""
    return " … ".join(" ".join(reference[i:i + 3]) for i in range(0, len(reference), 3))


def test_a_withheld_caller_who_lost_the_number_hears_their_open_cases_newest_first(
    cases, place_call, committed_db  # noqa: F811
):
    result = play(place_call, f"""
        press 1
        press 2
        expect 番号が分からない方は、2を
        press 2
        expect 住民番号
        press {RESIDENT_NO}#
        expect 生年月日
        press {BIRTH}#
        expect 1948年5月17日
        press 1
        expect 受付中の、お問い合わせが、2件あります
        hangup
    """, from_number=WITHHELD_CALLER_ID)
    spoken = result.spoken
    [told] = [line for line in spoken.splitlines() if "2件あります" in line]
    assert told.index("ただいま、対応中です") < told.index("来週、補修工事を行います。")
    assert told.index("来週、補修工事を行います。") < told.index("ただいま、受付済みです")
    assert told.index("ただいま、受付済みです") < told.index("現在、ご予約は、ありません")
    newer, older = spoken.find(spaced(cases["newer"])), spoken.find(spaced(cases["older"]))
    assert 0 <= newer < older  # newest first
    assert spaced(cases["done"]) not in spoken and "回収しました" not in spoken
    assert spaced(cases["other"]) not in spoken  # a neighbour's case is never read
    assert "道路の穴" not in spoken  # the staff's subject line is not read out
    nodes = [step["node"] for step in call_row(committed_db, result).path]
    assert "cases_read" in nodes


def test_an_english_caller_with_a_registered_number_hears_their_cases_in_english(
    cases, place_call  # noqa: F811
):
    result = play(place_call, f"""
        press 2
        press 2
        expect If you do not know it, press 2
        press 2
        expect date of birth
        press {BIRTH}#
        press 1
        expect Open reports in your name: 2
        expect You have no appointment
        hangup
    """, from_number=MOBILE)
    # From the count on (a note in Japanese is a sentence of its own, in its own voice).
    told = result.spoken[result.spoken.index("Open reports in your name"):]
    newer = told.index(f"Report number {spaced(cases['newer'])}")
    older = told.index(f"Report number {spaced(cases['older'])}")
    assert newer < told.index("is being worked on") < older < told.index("is received")
    assert "You have no appointment" in told
    # The staff's note is in Japanese: said as such (in the Japanese voice), not passed off.
    assert told.index("The latest update from the city, in Japanese, is:") < told.index(
        "来週、補修工事を行います。")


def test_a_wrong_birth_date_hears_no_case(cases, place_call):  # noqa: F811
    result = play(place_call, f"""
        press 1
        press 2
        press 2
        press {RESIDENT_NO}#
        press 19480518#
        press 1
        expect 一致する方が、見つかりませんでした
        hangup
    """, from_number=WITHHELD_CALLER_ID)
    assert "お問い合わせが" not in result.spoken
    assert all(spaced(ref) not in result.spoken for ref in cases.values())


def test_a_resident_with_no_open_case_is_told_so(city, place_call):  # noqa: F811
    result = play(place_call, f"""
        press 1
        press 2
        press 2
        press {RESIDENT_NO}#
        press {BIRTH}#
        press 1
        expect 受付中の、お問い合わせは、ありません
        hangup
    """, from_number=WITHHELD_CALLER_ID)
    assert "件あります" not in result.spoken
