"""Supervisors' reports in a real browser: CSV downloads that parse, and operators kept out."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from agent_console.services import accounts
from madoguchi import booking, inquiries
from madoguchi.csv_safety import BOM
from madoguchi.models import AuditEntry, Call, Campaign, Resident, Site, Slot
from tests.e2e.conftest import PASSWORD, log_in

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def reports_city(committed_db):
    """Committed data the server sees: a supervisor, an operator, bookings, a call, inquiries."""
    with committed_db() as session:
        accounts.create_operator(session, username="kanri", display_name="監督 一郎",
                                 password=PASSWORD, role="supervisor")
        accounts.create_operator(session, username="yamada", display_name="山田 オペ",
                                 password=PASSWORD, role="operator")
        campaign = Campaign(code="V1", name="秋の接種", name_en="Autumn round")
        site = Site(code="HALL", name="みどり市民会館", name_en="Midori Civic Hall")
        people = [Resident(resident_no=f"2024000{n}", name=f"佐藤 {n}", name_kana="サトウ",
                           birth_date=date(1941, 3, 9)) for n in range(3)]
        session.add_all([campaign, site, *people])
        session.flush()
        day = datetime.now(TOKYO).date() + timedelta(days=3)
        start = datetime(day.year, day.month, day.day, 9, 0, tzinfo=TOKYO).astimezone(UTC)
        slot = Slot(campaign_id=campaign.id, site_id=site.id, capacity=10, starts_at=start,
                    length_minutes=30)
        session.add(slot)
        today = datetime.now(TOKYO)
        session.add(Call(call_sid="CA-e2e", from_e164="+819012345678",
                         started_at=today.astimezone(UTC) - timedelta(minutes=5),
                         status="completed", outcome="self_served"))
        session.commit()
        for person in people:
            booking.book(session, slot_id=slot.id, resident_id=person.id, channel="ivr")
        inquiries.create(session, category="waste", subject="=cmd|' /C calc'!A0",
                         channel="ivr", resident_id=people[0].id)
        return {"campaign_id": campaign.id, "day": day.isoformat(),
                "today": today.date().isoformat()}


def downloaded_rows(download) -> list[list[str]]:
    raw = Path(download.path()).read_bytes()
    assert raw.startswith(BOM.encode("utf-8")) and b"\r\n" in raw
    return list(csv.reader(io.StringIO(raw.decode("utf-8").removeprefix(BOM), newline="")))


def test_a_supervisor_downloads_the_inquiries_export_and_it_parses(page, reports_city,
                                                                   committed_db):
    log_in(page, "kanri")
    page.click("nav >> text=集計・出力")
    page.click("text=CSV出力(通話・問い合わせ)")
    page.select_option("#kind", "inquiries")
    with page.expect_download() as info:
        page.click("#export-form button[type=submit]")
    download = info.value
    assert download.suggested_filename.startswith("inquiries-")
    rows = downloaded_rows(download)
    assert rows[0][:4] == ["受付番号", "受付日時 (Asia/Tokyo)", "分類", "件名"]
    assert rows[1][2:4] == ["ごみ", "'=cmd|' /C calc'!A0"]
    with committed_db() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "export"))
        assert (entry.actor, entry.entity, entry.detail["rows"]) == ("kanri", "inquiries", 1)


def test_a_supervisor_downloads_the_ledger_csv_matching_the_page(page, reports_city,
                                                                 screenshot):
    log_in(page, "kanri")
    page.goto(f"/console/reports/ledger?campaign={reports_city['campaign_id']}")
    screenshot(page, "capacity-ledger")
    total = page.locator("#ledger-total").inner_text()
    with page.expect_download() as info:
        page.click("#ledger-csv")
    rows = downloaded_rows(info.value)
    assert rows[1][:5] == [reports_city["day"], "09:00", "みどり市民会館", "10", "3"]
    assert rows[-1][0] == "合計" and rows[-1][4] == "3"
    assert "3" in total and "7" in total


def test_an_operator_is_refused_the_reports(page, reports_city):
    log_in(page, "yamada")
    assert page.locator("nav >> text=集計・出力").count() == 0
    response = page.goto("/console/reports/ledger")
    assert response.status == 403
    assert "この画面はスーパーバイザーのみ使えます" in page.content()
    response = page.goto(f"/console/reports/export.csv?kind=calls&from={reports_city['today']}")
    assert response.status == 403


def test_the_menu_sheet_prints_without_the_console_around_it(page, reports_city, screenshot):
    log_in(page, "kanri")
    page.goto("/console/reports/menu?lang=ja")
    assert page.locator("#menu-tree li.depth-1").count() >= 3
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert not page.locator("button[data-print]").is_visible()
    assert page.locator("#menu-tree").is_visible()
    screenshot(page, "menu-sheet-print")
