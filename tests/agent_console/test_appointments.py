"""Booking, moving and cancelling from the resident page; failures are said, never swallowed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from madoguchi import booking
from madoguchi.models import AuditEntry, Booking, Slot
from tests import factories
from tests.agent_console.conftest import post


@pytest.fixture
def world(db_session):
    campaign, site = factories.campaign(db_session), factories.site(db_session)
    start = datetime.now(UTC).replace(hour=0, minute=30, second=0, microsecond=0) + timedelta(
        days=3)
    first = factories.slot(db_session, campaign_id=campaign.id, site_id=site.id, starts_at=start,
                           capacity=2)
    second = factories.slot(db_session, campaign_id=campaign.id, site_id=site.id,
                            starts_at=start + timedelta(minutes=30), capacity=1)
    resident = factories.resident(db_session)
    db_session.commit()
    return {"campaign": campaign, "site": site, "first": first, "second": second,
            "resident": resident, "day": start.astimezone(UTC).date().isoformat()}


def resident_url(world) -> str:
    return f"/console/residents/{world['resident'].id}"


def test_the_slot_list_shows_remaining_places_for_the_day(as_operator, world):
    page = as_operator.get(resident_url(world), query_string={"day": world["day"]})
    text = page.get_data(as_text=True)
    assert "2人 / 2" in text and "1人 / 1" in text


def test_booking_a_slot_for_a_resident_uses_the_operator_channel(as_operator, world, db_session,
                                                                  staff):
    response = post(as_operator, resident_url(world) + "/book",
                    {"slot_id": world["first"].id, "day": world["day"]})
    assert response.status_code == 302
    made = db_session.scalar(select(Booking).where(Booking.resident_id == world["resident"].id))
    assert (made.channel, made.operator_id, made.status) == ("operator", staff.operator.id,
                                                              "confirmed")
    page = as_operator.get(response.headers["Location"]).get_data(as_text=True)
    assert f"予約番号は {made.reference} です" in page
    actions = db_session.scalars(select(AuditEntry.action).where(
        AuditEntry.resident_id == world["resident"].id)).all()
    assert "book" in actions


def test_a_slot_filled_meanwhile_says_so_in_the_operator_s_language(as_operator, world,
                                                                   db_session):
    other = factories.resident(db_session)
    booking.book(db_session, slot_id=world["second"].id, resident_id=other.id, channel="ivr")
    response = post(as_operator, resident_url(world) + "/book",
                    {"slot_id": world["second"].id, "day": world["day"]})
    assert response.status_code == 409
    assert "この枠はたった今満員になりました" in response.get_data(as_text=True)
    refused = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "book_refused"))
    assert refused.detail == {"code": "slot_full"}


def test_a_second_booking_in_the_campaign_names_the_existing_code(as_operator, world,
                                                                  db_session):
    first = booking.book(db_session, slot_id=world["first"].id,
                         resident_id=world["resident"].id, channel="ivr")
    response = post(as_operator, resident_url(world) + "/book", {"slot_id": world["second"].id})
    assert response.status_code == 409
    assert f"すでに予約があります(予約番号 {first.reference})" in response.get_data(as_text=True)


def test_the_refusal_is_in_english_for_an_english_speaking_operator(client, staff, world,
                                                                    db_session):
    from tests.agent_console.conftest import login

    login(client, staff.admin.username)  # the admin's language is English
    other = factories.resident(db_session)
    booking.book(db_session, slot_id=world["second"].id, resident_id=other.id, channel="ivr")
    response = post(client, resident_url(world) + "/book", {"slot_id": world["second"].id})
    assert "This slot has just become full" in response.get_data(as_text=True)


def test_moving_a_booking_keeps_its_code_and_frees_the_old_place(as_operator, world,
                                                                 db_session):
    made = booking.book(db_session, slot_id=world["first"].id,
                        resident_id=world["resident"].id, channel="ivr")
    response = post(as_operator, resident_url(world) + "/move",
                    {"reference": made.reference, "slot_id": world["second"].id})
    assert response.status_code == 302
    db_session.expire_all()
    moved = db_session.scalar(select(Booking).where(Booking.reference == made.reference))
    assert moved.slot_id == world["second"].id
    assert db_session.get(Slot, world["first"].id).booked_count == 0


def test_cancelling_frees_the_place_and_is_audited(as_operator, world, db_session):
    made = booking.book(db_session, slot_id=world["first"].id,
                        resident_id=world["resident"].id, channel="ivr")
    response = post(as_operator, resident_url(world) + "/cancel",
                    {"reference": made.reference, "reason": "体調不良"})
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.get(Booking, made.id).status == "cancelled"
    assert db_session.get(Booking, made.id).cancel_reason == "体調不良"
    page = as_operator.get(response.headers["Location"]).get_data(as_text=True)
    assert f"予約番号 {made.reference} を取り消しました" in page
    assert db_session.scalar(select(AuditEntry).where(AuditEntry.action == "cancel")) is not None


def test_another_resident_s_booking_cannot_be_cancelled_from_this_page(as_operator, world,
                                                                        db_session):
    other = factories.resident(db_session)
    theirs = booking.book(db_session, slot_id=world["first"].id, resident_id=other.id,
                          channel="ivr")
    response = post(as_operator, resident_url(world) + "/cancel", {"reference": theirs.reference})
    assert response.status_code == 409
    assert "予約または枠が見つかりません" in response.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(Booking, theirs.id).status == "confirmed"


def test_a_full_slot_is_marked_full_without_a_book_button(as_operator, world, db_session):
    other = factories.resident(db_session)
    booking.book(db_session, slot_id=world["second"].id, resident_id=other.id, channel="ivr")
    page = as_operator.get(resident_url(world), query_string={"day": world["day"]})
    text = page.get_data(as_text=True)
    assert f'data-slot="{world["second"].id}"' not in text
    assert f'data-slot="{world["first"].id}"' in text and "満員" in text


def _fill(db_session, slot) -> None:
    for _ in range(slot.capacity):
        booking.book(db_session, slot_id=slot.id, resident_id=factories.resident(db_session).id,
                     channel="ivr")


def test_only_a_supervisor_is_offered_a_booking_beyond_a_full_slot(as_operator, client, world,
                                                                   db_session, staff):
    _fill(db_session, world["second"])
    beyond = f"{resident_url(world)}/book-beyond-capacity"
    page = as_operator.get(resident_url(world), query_string={"day": world["day"]})
    assert beyond not in page.get_data(as_text=True)
    refused = post(as_operator, beyond, {"slot_id": world["second"].id, "reason": "特例"})
    assert refused.status_code == 403
    post(client, "/console/logout")
    from tests.agent_console.conftest import login

    login(client, staff.supervisor.username)
    page = client.get(resident_url(world), query_string={"day": world["day"]})
    assert beyond in page.get_data(as_text=True) and "特例で予約" in page.get_data(as_text=True)


def test_a_supervisor_books_a_full_slot_as_a_counted_exception_with_its_reason(
        as_supervisor, world, db_session, staff):
    _fill(db_session, world["second"])
    response = post(as_supervisor, f"{resident_url(world)}/book-beyond-capacity",
                    {"slot_id": world["second"].id, "reason": "付き添いの家族と同じ時間に",
                     "day": world["day"]})
    assert response.status_code == 302
    made = db_session.scalar(select(Booking).where(Booking.resident_id == world["resident"].id))
    assert (made.overridden, made.override_reason, made.operator_id) == (
        True, "付き添いの家族と同じ時間に", staff.supervisor.id)
    page = as_supervisor.get(response.headers["Location"]).get_data(as_text=True)
    assert f"予約番号は {made.reference} です" in page and "特例 1" in page
    audit = db_session.scalar(select(AuditEntry).where(
        AuditEntry.action == "book_beyond_capacity"))
    # The reason is typed by staff and may name someone: kept sealed on the booking, which the
    # audit row names; the append-only log holds only ids.
    assert audit.resident_id == world["resident"].id and audit.entity_id == made.reference
    assert audit.detail == {"slot_id": world["second"].id, "reason_given": True}


def test_a_booking_beyond_capacity_without_a_reason_books_nothing_and_says_why(
        as_supervisor, world, db_session):
    _fill(db_session, world["second"])
    response = post(as_supervisor, f"{resident_url(world)}/book-beyond-capacity",
                    {"slot_id": world["second"].id, "reason": ""})
    page = as_supervisor.get(response.headers["Location"]).get_data(as_text=True)
    assert "理由を入力してください" in page
    assert db_session.scalar(select(Booking).where(
        Booking.resident_id == world["resident"].id)) is None
