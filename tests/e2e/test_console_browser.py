"""Operators' journeys in a real browser against a real server process."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from agent_console.services import accounts
from madoguchi import booking, inquiries
from madoguchi.models import AuditEntry, Booking, Campaign, Inquiry, Resident, ResidentPhone, Site
from madoguchi.models import Slot as SlotRow
from tests.e2e.conftest import PASSWORD, log_in

LANDING = "**/console/work"  # where everyone lands after signing in: the work screen
TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def city(committed_db):
    """Committed data the server process sees: users, residents, a campaign with slots."""
    with committed_db() as session:
        operator = accounts.create_operator(session, username="yamada", display_name="山田 オペ",
                                            password=PASSWORD, role="operator")
        accounts.create_operator(session, username="admin", display_name="管理 花子",
                                 password=PASSWORD, role="admin", language="en")
        resident = Resident(resident_no="20240001", name="佐藤 花子", name_kana="サトウ ハナコ",
                            birth_date=date(1941, 3, 9))
        resident.phones.append(ResidentPhone(e164="+819012345678", is_mobile=True))
        neighbour = Resident(resident_no="20240002", name="佐藤 一郎", name_kana="サトウ イチロウ",
                             birth_date=date(1939, 11, 2))
        campaign = Campaign(code="V1", name="新型コロナワクチン 秋接種", name_en="Autumn round")
        site = Site(code="HALL", name="みどり市民会館", name_en="Midori Civic Hall")
        session.add_all([resident, neighbour, campaign, site])
        session.flush()
        day = datetime.now(TOKYO).date() + timedelta(days=3)
        slots = []
        for index, capacity in enumerate((10, 1, 10, 10)):
            start = datetime(day.year, day.month, day.day, 9, 0, tzinfo=TOKYO) + timedelta(
                minutes=30 * index)
            slots.append(SlotRow(campaign_id=campaign.id, site_id=site.id, capacity=capacity,
                                 starts_at=start.astimezone(UTC), length_minutes=30))
        session.add_all(slots)
        session.commit()
        booking.book(session, slot_id=slots[2].id, resident_id=neighbour.id, channel="ivr")
        inquiries.create(session, category="waste", subject="粗大ごみの回収日を知りたい",
                         channel="ivr", resident_id=resident.id)
        return {"operator_id": operator.id, "resident_id": resident.id,
                "neighbour_id": neighbour.id, "slot_ids": [s.id for s in slots],
                "day": day.isoformat()}


def test_an_operator_finds_a_resident_and_books_a_slot(page, city, committed_db, screenshot):
    page.goto("/console/login")
    screenshot(page, "login")
    log_in(page, "yamada", lands_on=LANDING)
    page.goto("/console/residents")
    page.keyboard.press("/")
    page.keyboard.type("090-1234-5678")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=佐藤 花子")
    screenshot(page, "resident-search")
    with committed_db() as session:
        searches = session.scalars(select(AuditEntry).where(AuditEntry.action == "search")).all()
        assert [row.detail["results"] for row in searches] == [[city["resident_id"]]]
        assert searches[0].actor == "yamada"

    page.click("text=佐藤 花子")
    page.fill("#day", city["day"])
    page.click("#slots form.search button")
    first_slot = city["slot_ids"][0]
    page.click(f"button[data-slot='{first_slot}']")
    message = page.locator(".flash-success").inner_text()
    with committed_db() as session:
        made = session.scalar(select(Booking).where(Booking.resident_id == city["resident_id"]))
        assert (made.channel, made.operator_id, made.slot_id) == ("operator", city["operator_id"],
                                                                 first_slot)
    assert made.reference in message
    assert made.reference in page.locator("#bookings").inner_text()
    screenshot(page, "resident-booked")


def test_a_slot_filled_meanwhile_shows_the_clear_message(page, city, committed_db, screenshot):
    log_in(page, "yamada", lands_on=LANDING)
    page.goto(f"/console/residents/{city['resident_id']}?day={city['day']}")
    last_place = city["slot_ids"][1]
    with committed_db() as session:
        # Someone on the phone line takes the slot's only place while the operator looks.
        other = Resident(resident_no="20240003", name="田中 三郎", name_kana="タナカ サブロウ",
                         birth_date=date(1945, 1, 1))
        session.add(other)
        session.commit()
        booking.book(session, slot_id=last_place, resident_id=other.id, channel="ivr")
    page.click(f"button[data-slot='{last_place}']")
    alert = page.locator(".flash-error").inner_text()
    assert "この枠はたった今満員になりました" in alert
    screenshot(page, "slot-full")
    with committed_db() as session:
        assert session.scalar(select(Booking).where(
            Booking.resident_id == city["resident_id"])) is None


def test_an_operator_logs_an_inquiry_and_reads_out_its_reference(page, city, committed_db,
                                                                 screenshot):
    log_in(page, "yamada", lands_on=LANDING)
    page.goto(f"/console/residents/{city['resident_id']}")
    page.click("a.button:has-text('新しい問い合わせ')")
    page.select_option("#category", "roads")
    page.fill("#subject", "家の前の街灯が消えている")
    page.fill("#note", "夜間に危ないとのこと")
    page.fill("#contact_phone", "090-1234-5678")
    page.click("form.card button[type=submit]")
    reference = page.locator("#inquiry-reference").inner_text().strip()
    with committed_db() as session:
        saved = session.scalar(select(Inquiry).where(Inquiry.reference == reference))
        assert (saved.resident_id, saved.channel, saved.category) == (city["resident_id"],
                                                                       "operator", "roads")
    assert reference in page.locator(".flash-success").inner_text()
    screenshot(page, "inquiry")
    page.keyboard.press("i")
    page.wait_for_url("**/console/inquiries")
    assert "家の前の街灯が消えている" in page.locator("#inquiry-list").inner_text()
    screenshot(page, "inquiries")


def test_an_operator_cannot_open_an_admin_page(page, city):
    log_in(page, "yamada", lands_on=LANDING)
    response = page.goto("/console/admin/audit")
    assert response.status == 403
    assert "この画面は管理者のみ使えます" in page.content()
    assert page.locator("a:has-text('監査ログ')").count() == 0


def test_an_admin_reads_the_audit_log_in_english(page, city, screenshot):
    log_in(page, "admin", lands_on=LANDING)
    page.goto(f"/console/residents/{city['resident_id']}")
    page.goto("/console/admin/audit")
    assert "Audit log" in page.locator("h1").inner_text()
    assert "view" in page.locator("#audit-list").inner_text()
    screenshot(page, "audit-log")
