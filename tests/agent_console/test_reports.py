"""The supervisors' report pages and CSV downloads, through the console as each role."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from madoguchi.csv_safety import BOM
from madoguchi.models import AuditEntry, Booking, Call, FaqEntry, FaqText, Inquiry
from tests import factories

TOKYO = ZoneInfo("Asia/Tokyo")
DAY = date(2031, 10, 6)
REPORT_PAGES = ["/console/reports", "/console/reports/ledger", "/console/reports/ledger.csv",
                "/console/reports/inquiries", "/console/reports/menu",
                "/console/reports/exports", "/console/reports/export.csv"]


def jst(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TOKYO).astimezone(UTC)


def parse_csv(response) -> list[list[str]]:
    """The rows of a CSV download, checking it is what Excel needs (BOM, CRLF)."""
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"  # charset said once
    raw = response.get_data()
    assert raw.startswith(BOM.encode("utf-8"))
    text = raw.decode("utf-8")
    assert "\n" not in text.replace("\r\n", "")
    return list(csv.reader(io.StringIO(text.removeprefix(BOM), newline="")))


@pytest.fixture
def line_history(db_session):
    """Calls and inquiries on DAY, one with a subject that is a spreadsheet formula."""
    db_session.add_all([
        Call(call_sid="CA-morning", from_e164="+819012345678", started_at=jst(9),
             status="completed", outcome="booked", duration_seconds=185, language="ja"),
        Call(call_sid="CA-withheld", from_e164=None, started_at=jst(23, 59),
             status="completed", outcome="self_served"),
        Call(call_sid="CA-next-day", from_e164="+819011112222", started_at=jst(0, 0, date(
            2031, 10, 7))),
        Inquiry(reference="I000000001", category="waste", subject="粗大ごみの回収日を知りたい",
                status="received", channel="ivr", contact_e164="+819012345678",
                created_at=jst(10), updated_at=jst(10)),
        Inquiry(reference="I000000002", category="roads",
                subject='=HYPERLINK("http://evil.example","click")', status="done",
                channel="operator", created_at=jst(11), updated_at=jst(11), closed_at=jst(15)),
    ])
    db_session.flush()


def export(client, kind: str, first: date = DAY, last: date = DAY):
    return client.get(f"/console/reports/export.csv?kind={kind}&from={first}&to={last}")


def test_an_operator_is_refused_every_report_page(as_operator):
    for path in REPORT_PAGES:
        assert as_operator.get(path).status_code == 403, path


def test_supervisors_see_the_reports_link(as_supervisor):
    assert "/console/reports" in as_supervisor.get("/console/residents").get_data(as_text=True)


def test_operators_have_no_reports_link(as_operator):
    assert "/console/reports" not in as_operator.get("/console/residents").get_data(as_text=True)


def test_a_supervisor_exports_calls_with_masked_numbers_and_an_audit_row(
        as_supervisor, db_session, line_history, staff):
    response = export(as_supervisor, "calls")
    assert response.is_streamed
    assert 'filename="calls-2031-10-06-2031-10-06.csv"' in response.headers["Content-Disposition"]
    rows = parse_csv(response)
    assert rows[0][0] == "開始日時 (Asia/Tokyo)"
    assert [row[1] for row in rows[1:]] == ["CA-morning", "CA-withheld"]
    assert rows[1][0] == "2031-10-06 09:00:00"
    assert rows[1][3] == "*******5678"
    assert rows[2][3] == ""
    assert "12345678" not in response.get_data(as_text=True)
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "export"))
    assert (entry.actor, entry.entity, entry.operator_id) == (
        "supervisor-user", "calls", staff.supervisor.id)
    assert entry.detail == {"first_day": "2031-10-06", "last_day": "2031-10-06", "rows": 2,
                            "phones_masked": True}


def test_an_admin_gets_full_numbers_and_the_audit_row_says_so(as_admin, db_session,
                                                              line_history):
    rows = parse_csv(export(as_admin, "calls"))
    assert rows[0][0] == "Started (Asia/Tokyo)"
    assert rows[1][3] == "090-1234-5678"
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "export"))
    assert entry.detail["phones_masked"] is False


def test_inquiries_export_keeps_japanese_and_neutralises_a_formula_subject(
        as_supervisor, line_history):
    rows = parse_csv(export(as_supervisor, "inquiries"))
    assert [row[0] for row in rows[1:]] == ["I000000001", "I000000002"]
    assert rows[1][3] == "粗大ごみの回収日を知りたい"
    assert rows[1][6] == "*******5678"
    assert rows[2][3] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert rows[2][9] == "2031-10-06 15:00:00"
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)


def test_an_export_with_a_reversed_range_says_so_and_writes_nothing(as_supervisor, db_session):
    response = export(as_supervisor, "calls", date(2031, 10, 7), date(2031, 10, 6))
    assert response.status_code == 400
    assert "終了日が開始日より前になっています" in response.get_data(as_text=True)
    assert db_session.scalar(select(AuditEntry).where(AuditEntry.action == "export")) is None


def test_an_export_with_a_malformed_date_says_how_to_write_it(as_admin):
    response = as_admin.get("/console/reports/export.csv?kind=calls&from=6/10/2031&to=2031-10-06")
    assert response.status_code == 400
    assert "Write dates as year-month-day" in response.get_data(as_text=True)


def test_an_unknown_export_kind_is_refused(as_supervisor):
    response = as_supervisor.get("/console/reports/export.csv?kind=residents")
    assert response.status_code == 400


@pytest.fixture
def booked_round(db_session):
    """A campaign with one slot, two bookings and a cancellation; its counter drifted by one."""
    campaign = factories.campaign(db_session, name="秋の接種", name_en="Autumn round")
    hall = factories.site(db_session, name="みどり市民会館")
    slot = factories.slot(db_session, campaign_id=campaign.id, site_id=hall.id,
                          starts_at=jst(9), capacity=10)
    for index, status in enumerate(("confirmed", "attended", "cancelled")):
        person = factories.resident(db_session)
        db_session.add(Booking(reference=f"B00000000{index}", slot_id=slot.id,
                               campaign_id=campaign.id, resident_id=person.id, status=status,
                               channel="operator"))
    slot.booked_count = 3
    db_session.flush()
    return campaign


def test_the_ledger_page_shows_row_counts_and_the_mismatch(as_supervisor, booked_round):
    page = as_supervisor.get(f"/console/reports/ledger?campaign={booked_round.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "秋の接種" in html and "みどり市民会館" in html
    assert "1件の枠で、記録上の数が予約データと一致していません" in html
    assert "予約データ(1件ごとの予約記録)から数えています" in html


def test_a_ledger_longer_than_a_month_lists_its_days_as_links_and_leaves_the_slots_to_the_csv(
        as_supervisor, booked_round, db_session):
    from datetime import timedelta

    hall = factories.site(db_session, name="北公民館")
    for offset in range(1, 40):
        factories.slot(db_session, campaign_id=booked_round.id, site_id=hall.id,
                       starts_at=jst(10, day=DAY + timedelta(days=offset)), capacity=5)
    db_session.flush()
    whole = as_supervisor.get(f"/console/reports/ledger?campaign={booked_round.id}")
    html = whole.get_data(as_text=True)
    assert whole.status_code == 200
    assert 'id="ledger-slots"' not in html and 'id="ledger-slots-by-range"' in html
    assert f"from={DAY}&amp;to={DAY}" in html  # each day opens its own slots
    assert html.count("北公民館") == 0
    month = as_supervisor.get(f"/console/reports/ledger?campaign={booked_round.id}"
                              f"&from={DAY}&to={DAY + timedelta(days=30)}")
    html = month.get_data(as_text=True)
    assert 'id="ledger-slots"' in html and html.count("北公民館") == 30
    rows = parse_csv(as_supervisor.get(f"/console/reports/ledger.csv?campaign={booked_round.id}"))
    assert len(rows) == 1 + 40 + 1  # the header, every slot, the total


def test_the_ledger_csv_totals_equal_the_rows_and_the_download_is_audited(
        as_supervisor, booked_round, db_session):
    rows = parse_csv(as_supervisor.get(
        f"/console/reports/ledger.csv?campaign={booked_round.id}&from={DAY}&to={DAY}"))
    header, slot_row, total = rows
    assert header[:5] == ["日付", "時刻", "会場", "定員", "予約数"]
    assert slot_row[:5] == ["2031-10-06", "09:00", "みどり市民会館", "10", "2"]
    assert slot_row[header.index("取消")] == "1"
    assert slot_row[header.index("記録上の数")] == "3"
    assert slot_row[-1] == "不一致"
    assert total[0] == "合計" and total[4] == "2" and total[header.index("残り")] == "8"
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.entity == "capacity_ledger"))
    assert entry.action == "export" and entry.detail["rows"] == 1


def test_the_ledger_refuses_a_malformed_date_in_the_users_language(as_admin, booked_round):
    response = as_admin.get(f"/console/reports/ledger?campaign={booked_round.id}&from=yesterday")
    assert response.status_code == 400
    assert "Write dates as year-month-day" in response.get_data(as_text=True)


def test_the_ledger_says_when_the_campaign_does_not_exist(as_supervisor, booked_round):
    for campaign in ("999999", "autumn"):
        response = as_supervisor.get(f"/console/reports/ledger.csv?campaign={campaign}")
        assert response.status_code == 400
        assert "選んだ事業が見つかりません" in response.get_data(as_text=True)


def test_the_inquiry_analytics_page_states_its_definitions(as_supervisor, line_history):
    page = as_supervisor.get(f"/console/reports/inquiries?from={DAY}&to={DAY}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "受付 2件" in html
    assert "回答までの時間 = 受付から、職員が最初に経過を記録する" in html
    assert "解決までの時間 = 受付から「対応済み」になるまでの時間" in html
    assert "4時間0分" in html  # the one resolution: 11:00 to 15:00
    assert "回収日" in html


def test_the_printable_menu_is_the_live_menu_with_faq_titles_in_each_language(
        as_supervisor, db_session):
    entry = FaqEntry(position=1, active=True)
    entry.texts = [FaqText(language="ja", title="駐車場", answer="市役所の駐車場は無料です。"),
                   FaqText(language="en", title="parking", answer="Parking is free.")]
    db_session.add(entry)
    db_session.flush()
    japanese = as_supervisor.get("/console/reports/menu?lang=ja").get_data(as_text=True)
    english = as_supervisor.get("/console/reports/menu?lang=en").get_data(as_text=True)
    assert "駐車場" in japanese and "電話窓口のご案内" in japanese
    assert "For parking, press 1." in english and "phone line: the menu" in english
    assert 'class="depth-1"' in english


def test_report_pages_load_the_print_stylesheet(as_supervisor):
    html = as_supervisor.get("/console/reports/menu").get_data(as_text=True)
    assert "reports.css" in html and "reports.js" in html
    css = as_supervisor.get("/console/static/reports.css").get_data(as_text=True)
    assert "@media print" in css


def test_a_callback_call_shows_the_residents_number_masked_in_the_calls_export(
        as_supervisor, db_session, line_history):
    db_session.add(Call(call_sid="CA-callback", direction="outbound-callback", from_e164=None,
                        to_number="+819033334444", started_at=jst(12), status="completed"))
    db_session.flush()
    response = export(as_supervisor, "calls")
    rows = {row[1]: row for row in parse_csv(response)[1:]}
    assert rows["CA-callback"][2] == "outbound-callback"
    assert rows["CA-callback"][3] == "*******4444"
    assert "33334444" not in response.get_data(as_text=True)


def test_each_faq_candidate_links_to_the_inquiries_behind_it(as_supervisor, line_history,
                                                             db_session):
    html = as_supervisor.get(f"/console/reports/inquiries?from={DAY}&to={DAY}").get_data(
        as_text=True)
    case = db_session.scalar(select(Inquiry).where(Inquiry.reference == "I000000001"))
    row = next(line for line in html.split("<tr>") if "<td>粗大ごみ</td>" in line)
    assert f'href="/console/inquiries/{case.id}" class="code">I000000001</a>' in row
    assert "形態素解析" in html


def test_a_streamed_download_ends_every_transaction_it_opened(
        as_supervisor, booked_round, app, monkeypatch):
    # A download is read after the view returned and the request's session was closed: a
    # transaction opened then and never ended would hold its locks and its connection.
    db = app.extensions["madoguchi_db"]
    made, factory = [], db.session_factory

    def tracked():
        session = factory()
        made.append(session)
        return session

    monkeypatch.setattr(db, "session_factory", tracked)
    for url in (f"/console/reports/ledger.csv?campaign={booked_round.id}",
                f"/console/reports/export.csv?kind=calls&from={DAY}&to={DAY}",
                f"/console/reports/export.csv?kind=inquiries&from={DAY}&to={DAY}"):
        response = as_supervisor.get(url)
        assert response.status_code == 200 and response.get_data()
        response.close()
    assert made
    assert not [session for session in made if session.in_transaction()]
