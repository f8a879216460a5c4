"""An operator texts a resident their booking from the resident's page, in a real browser."""

from __future__ import annotations

from datetime import date

from agent_console.services import accounts
from madoguchi import booking
from madoguchi.models import Resident, ResidentPhone
from madoguchi.telephony.network import SimulatedNetwork
from tests import factories
from tests.e2e.conftest import PASSWORD, log_in

MOBILE = "+819087654321"


def test_the_booking_confirmation_is_texted_to_the_mobile_and_the_landline_cannot_be_chosen(
        page, committed_db, redis_client):
    with committed_db() as session:
        accounts.create_operator(session, username="kato", display_name="加藤",
                                 password=PASSWORD, role="operator")
        resident = Resident(resident_no="20249999", name="高橋 和子", name_kana="タカハシ カズコ",
                            birth_date=date(1944, 1, 20))
        resident.phones.append(ResidentPhone(e164=MOBILE, is_mobile=True))
        resident.phones.append(ResidentPhone(e164="+81312340000", is_mobile=False))
        session.add(resident)
        campaign = factories.campaign(session)
        slot = factories.slot(session, campaign_id=campaign.id,
                              site_id=factories.site(session).id)
        session.commit()
        made = booking.book(session, slot_id=slot.id, resident_id=resident.id, channel="ivr")
        resident_id, reference = resident.id, made.reference

    log_in(page, "kato", lands_on="**/console/work")
    page.goto(f"/console/residents/{resident_id}")
    assert page.locator("#sms-phone option[disabled]").inner_text().endswith("(固定電話)")
    assert page.locator("#sms-booking").input_value() == reference
    page.click("#sms button[type=submit]")
    assert "に SMS を送りました。" in page.locator(".flash-success").inner_text()
    [sms] = SimulatedNetwork(redis_client).messages(MOBILE)
    assert reference in sms.body and sms.body.startswith("みどり市です。")
