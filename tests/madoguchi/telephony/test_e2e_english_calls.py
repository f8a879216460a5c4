"""English callers through the simulator over a real server process: what issue 16 asked of the
line in Japanese holds for them too, and none of it reaches them in Japanese.

A booking made in Japanese is cancelled or moved by an English caller: the reference alone opens
nothing without the birth date (or the holder's own number); a `1#` costs no try; the change
list does not offer the slot already held; a moved booking is texted, in English. A silent
English caller with an operator on duty is in line after the menu's two re-prompts. The
language question itself says how to hear it again in both languages.
"""

from __future__ import annotations

import re

from madoguchi.telephony.engine import WITHHELD_CALLER_ID

from .live_server import live_server  # noqa: F401 (the fixture)
from .test_e2e_calls import (  # noqa: F401 (fixtures)
    BIRTH,
    BOOK_BY_CALLER_ID,
    MOBILE,
    booking_row,
    city,
    network,
    place_call,
    play,
    spoken_reference,
)
from .test_e2e_silent_callers import KNOWN, dial, operator_on_duty  # noqa: F401 (fixtures)

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def assert_all_english(spoken: str) -> None:
    """The bilingual greeting tells an English caller in English how to hear it again, and
    nothing after it is said in Japanese."""
    hint = "To hear this again, press 9."
    assert spoken.index("For English, press 2") < spoken.index(hint) < spoken.index(
        "To speak with a person at any time"), spoken
    after_greeting = spoken.split(hint, 1)[1]
    assert not JAPANESE.search(after_greeting), JAPANESE.findall(after_greeting)


def test_an_english_caller_cancels_by_reference_only_with_the_birth_date(
        city, place_call, committed_db):  # noqa: F811
    reference = spoken_reference(play(place_call, BOOK_BY_CALLER_ID, from_number=MOBILE))
    result = play(place_call, f"""
        press 2
        expect To speak with a person at any time, press 0
        press 2
        press 1
        press {reference}#
        # the number alone, which a neighbour could read off a note, opens nothing
        expect date of birth
        press 19500101#
        press 1
        expect could not find
        press {BIRTH}#
        press 1
        expect Civic Hall
        press 2
        expect To cancel it, press 1
        press 1
        expect Your appointment has been cancelled
        hangup
    """, from_number=WITHHELD_CALLER_ID)
    assert result.spoken.index("date of birth") < result.spoken.index("Civic Hall")
    assert_all_english(result.spoken)
    assert booking_row(committed_db, reference).status == "cancelled"


def test_an_english_caller_moves_a_booking_with_1_hash_keys_and_is_texted_in_english(
        city, place_call, committed_db, network):  # noqa: F811
    reference = spoken_reference(play(place_call, BOOK_BY_CALLER_ID, from_number=MOBILE))
    result = play(place_call, f"""
        press 2#
        press 2#
        press 1#
        press {reference}#
        expect Civic Hall
        press 1#
        press 1#
        press 1#
        expect has been changed
        hangup
    """, from_number=MOBILE)
    assert "date of birth" not in result.spoken  # the holder's own number is enough
    assert "did not catch" not in result.spoken  # no # of a 1# cost a try
    assert "not one of the choices" not in result.spoken
    assert_all_english(result.spoken)
    moved = booking_row(committed_db, reference)
    # Option 1 of the change list is the next slot, not the one already held.
    assert (moved.status, moved.slot_id) == ("confirmed", city["slot_ids"][1])
    moved_text = network.messages(MOBILE)[-1]
    assert reference in moved_text.body and not JAPANESE.search(moved_text.body)


def test_a_silent_english_caller_with_an_operator_on_duty_is_in_line_after_two_re_prompts(
        city, dial, operator_on_duty):  # noqa: F811
    caller, result = dial(KNOWN, first_keys="2")
    holds = [questions for _, questions, event in caller.heard if event.kind == "hold"]
    assert holds, result.spoken
    # The language key, the menu and its two re-prompts, then the line: as in Japanese.
    assert holds[0] + 1 <= 5
    assert result.spoken.count("Sorry, I did not catch that") == 2
    assert result.spoken.count("For a person, press 0.") == 2  # each re-prompt, in English
    assert_all_english(result.spoken)
