"""Texts from the console: a booking confirmation or a short note, to mobiles only, audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from agent_console.services import sms_desk
from madoguchi import booking, phone
from madoguchi.models import AuditEntry, ResidentPhone, TextMessage
from madoguchi.sealing import blind
from madoguchi.telephony.network import SimulatedNetwork
from tests import factories
from tests.agent_console.conftest import post

MOBILE = "+819012345678"
LANDLINE = "+81312349876"


@pytest.fixture
def network(redis_client) -> SimulatedNetwork:
    """The simulated phone network the app's telephony hands texts to."""
    return SimulatedNetwork(redis_client)


@pytest.fixture
def resident(db_session):
    """A resident with a mobile and a landline, and one booking."""
    person = factories.resident(db_session, name="佐藤 花子", phone=MOBILE)
    person.phones.append(ResidentPhone(e164=LANDLINE, is_mobile=False))
    campaign = factories.campaign(db_session)
    slot = factories.slot(db_session, campaign_id=campaign.id,
                          site_id=factories.site(db_session, name="みどり会館").id)
    db_session.commit()
    booking.book(db_session, slot_id=slot.id, resident_id=person.id, channel="ivr")
    return person


def _phone_id(session, e164: str) -> int:
    return session.scalar(select(ResidentPhone.id).where(
        blind.matches(ResidentPhone.e164_digest, "phone", e164)))


def _send(client, resident, **fields):
    page = f"/console/residents/{resident.id}"
    return post(client, f"/console/residents/{resident.id}/sms", fields, form_page=page)


def _audit(session, action: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_the_booking_confirmation_reaches_the_residents_mobile_in_the_phone_lines_words(
        as_operator, db_session, resident, network):
    [made] = booking.bookings_of(db_session, resident.id)
    response = _send(as_operator, resident, phone_id=_phone_id(db_session, MOBILE),
                     kind="booking", reference=made.reference)
    assert response.status_code == 302
    [sms] = network.messages(MOBILE)
    assert sms.body.startswith("みどり市です。ご予約を承りました。")
    assert made.reference in sms.body and "みどり会館" in sms.body
    page = as_operator.get(response.headers["Location"]).get_data(as_text=True)
    assert "+81******5678 に SMS を送りました" in page


def test_a_sent_text_is_audited_by_id_with_the_masked_number_and_kept_sealed(
        as_operator, db_session, resident, network, staff):
    _send(as_operator, resident, phone_id=_phone_id(db_session, MOBILE), kind="text",
          text="  保険証をお持ちください。 ")
    [sms] = network.messages(MOBILE)
    [row] = _audit(db_session, "send_sms")
    assert row.resident_id == resident.id and row.operator_id == staff.operator.id
    assert row.detail["to"] == "+81******5678" and MOBILE not in str(row.detail)
    assert "保険証" not in str(row.detail) and row.detail["sid"] == sms.sid
    kept = db_session.get(TextMessage, row.detail["message_id"])
    assert (kept.body, kept.to_e164, kept.status, kept.sid) == (sms.body, MOBILE, "sent", sms.sid)
    raw = db_session.execute(text("SELECT body, to_e164 FROM text_messages")).one()
    assert "保険証" not in raw.body and MOBILE not in raw.to_e164
    assert sms.body.endswith("保険証をお持ちください。")


def test_a_text_twilio_never_confirmed_is_kept_as_unknown_and_not_to_be_sent_again_at_once(
        as_operator, db_session, resident, monkeypatch):
    # It may have reached the resident: "failed" would invite a second, identical text.
    from madoguchi.telephony.base import OutcomeUnknown
    from madoguchi.telephony.simulated import SimulatedTelephony

    def answer_lost(self, to_e164, body):
        raise OutcomeUnknown("SMS to [number] failed: Twilio did not answer (ReadTimeout)")

    monkeypatch.setattr(SimulatedTelephony, "send_sms", answer_lost)
    response = _send(as_operator, resident, phone_id=_phone_id(db_session, MOBILE),
                     kind="text", text="保険証をお持ちください。")
    page = as_operator.get(response.headers["Location"]).get_data(as_text=True)
    assert "届いたか分かりません" in page and "すぐには送り直さないでください" in page
    [row] = _audit(db_session, "sms_unknown")
    assert row.detail["to"] == "+81******5678" and MOBILE not in str(row.detail)
    kept = db_session.get(TextMessage, row.detail["message_id"])
    assert (kept.status, kept.sid) == ("unknown", None)
    assert _audit(db_session, "sms_failed") == []


def test_a_landline_is_refused_plainly_and_nothing_is_sent(as_operator, db_session, resident,
                                                           network):
    response = _send(as_operator, resident, phone_id=_phone_id(db_session, LANDLINE),
                     kind="text", text="こんにちは")
    page = as_operator.get(response.headers["Location"]).get_data(as_text=True)
    assert f"{phone.mask(LANDLINE)} は固定電話です。SMS は携帯電話にしか送れません。" in page
    assert network.messages() == [] and _audit(db_session, "send_sms") == []


def test_a_note_over_the_limit_is_refused_with_its_length(as_operator, db_session, resident,
                                                          network):
    text = "あ" * (sms_desk.MAX_TEXT_LENGTH + 1)
    response = _send(as_operator, resident, phone_id=_phone_id(db_session, MOBILE),
                     kind="text", text=text)
    page = as_operator.get(response.headers["Location"]).get_data(as_text=True)
    assert f"本文が長すぎます({len(text)}文字)。{sms_desk.MAX_TEXT_LENGTH}文字以内" in page
    assert network.messages() == []


def _flashed(client, response) -> str:
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_an_empty_note_or_another_residents_number_is_refused(as_operator, db_session, resident,
                                                              network):
    factories.resident(db_session, phone="+819099998888")
    db_session.commit()
    empty = _send(as_operator, resident, phone_id=_phone_id(db_session, MOBILE), kind="text",
                  text=" ")
    assert "本文を入力してください。" in _flashed(as_operator, empty)
    theirs = _send(as_operator, resident, phone_id=_phone_id(db_session, "+819099998888"),
                   kind="text", text="こんにちは")
    assert "この方の登録番号から選んでください" in _flashed(as_operator, theirs)
    assert network.messages() == []


def test_a_booking_code_of_someone_else_is_not_confirmed(as_operator, db_session, resident,
                                                        network):
    response = _send(as_operator, resident, phone_id=_phone_id(db_session, MOBILE),
                     kind="booking", reference="NOTMINE")
    assert "有効な予約が見つかりません" in _flashed(as_operator, response)
    assert network.messages() == []


def test_an_english_speaking_resident_gets_the_text_in_english(as_operator, db_session,
                                                               network):
    person = factories.resident(db_session, phone="+819055556666", language="en")
    db_session.commit()
    _send(as_operator, person, phone_id=_phone_id(db_session, "+819055556666"), kind="text",
          text="Please bring your insurance card.")
    [sms] = network.messages("+819055556666")
    assert sms.body.endswith(": Please bring your insurance card.")


def test_without_a_csrf_token_nothing_is_sent(as_operator, db_session, resident, network):
    response = as_operator.post(f"/console/residents/{resident.id}/sms", data={
        "phone_id": _phone_id(db_session, MOBILE), "kind": "text", "text": "こんにちは"})
    assert response.status_code == 400 and network.messages() == []


def test_the_resident_page_offers_the_mobile_and_marks_the_landline(as_operator, db_session,
                                                                     resident):
    page = as_operator.get(f"/console/residents/{resident.id}").get_data(as_text=True)
    assert 'id="sms"' in page and "+81******5678" in page
    assert f"{phone.mask(LANDLINE)} (固定電話)" in page and "disabled" in page


def test_a_resident_with_only_a_landline_is_told_apart_without_a_form(as_operator, db_session):
    person = factories.resident(db_session, phone=LANDLINE)
    db_session.commit()
    page = as_operator.get(f"/console/residents/{person.id}").get_data(as_text=True)
    assert "携帯電話の番号が登録されていません" in page and "/sms\"" not in page
