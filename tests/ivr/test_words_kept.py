"""What a caller says at a menu is kept, sealed, for the operator who calls them back; what they
say at a question asking for a number or a birth date is not."""

from __future__ import annotations

from sqlalchemy import select, text

from ivr.flow import SAID_KEPT, SAID_MEMO
from madoguchi import calls
from madoguchi.models import CallbackRequest
from tests.ivr.test_journeys import call_of, to_menu

WORDS = "ごみの収集日が変わったと聞いたんですけど"


def test_words_said_at_the_menu_reach_the_callback_sealed(caller, closed_line, db_session):
    to_menu(caller)
    caller.speak(WORDS)
    caller.press("4")
    caller.press("1")
    caller.press("1")
    db_session.expire_all()
    call = call_of(db_session, caller)
    assert calls.recall(db_session, call, SAID_MEMO) == [WORDS]
    request = db_session.scalar(select(CallbackRequest))
    assert request.call_id == call.id
    stored = db_session.execute(text("SELECT result FROM call_steps")).scalars().all()
    assert stored and not any("ごみ" in str(value) for value in stored), "sealed at rest"


def test_only_the_last_few_sayings_are_kept(caller, closed_line, db_session):
    to_menu(caller)
    for n in range(SAID_KEPT + 2):
        caller.speak(f"ええと{n}")
    db_session.expire_all()
    said = calls.recall(db_session, call_of(db_session, caller), SAID_MEMO)
    # The line moves on to a person after a few unclear answers; whatever it heard last is kept.
    assert len(said) == SAID_KEPT and "ええと0" not in said and said == sorted(said)


def test_a_number_said_at_an_entry_question_is_not_kept(caller, city, db_session):
    to_menu(caller)
    caller.press("1")
    assert "住民番号" in caller.doc.text
    caller.speak("いちにさんよんごろく")
    db_session.expire_all()
    assert calls.recall(db_session, call_of(db_session, caller), SAID_MEMO) is None
