"""Supervisors' reports: the capacity ledger, inquiry analytics, the printable menu, CSV exports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

from flask import Response, render_template, request, stream_with_context
from flask_login import current_user
from sqlalchemy.orm import Session

from agent_console.blueprint import bp
from agent_console.i18n import current_language, translate
from agent_console.security import role_required
from agent_console.services import capacity_ledger, exports, inquiry_analytics, menu_print
from agent_console.views.common import current_actor, parse_int, settings
from madoguchi import inquiry_categories
from madoguchi.csv_safety import CSV_MEDIA_TYPE, content_disposition, csv_blocks
from madoguchi.db import database, get_session
from madoguchi.query_values import parse_day

EXPORT_DEFAULT_DAYS = 7
ANALYTICS_DEFAULT_DAYS = 28


class BadDate(ValueError):
    """A date field holds something that is not a YYYY-MM-DD date from 1900 to 2199."""


def _day(name: str, default: date | None) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    day = parse_day(raw)
    if day is None:
        raise BadDate(name)
    return day


def _today() -> date:
    return datetime.now(settings().tz).date()


def _in_own_session(rows_of: Callable[[Session], Iterator]) -> Iterator:
    """Rows a download reads in a session of its own, closed when the stream ends or is dropped.

    The request's session is closed when the view returns, before the stream is read; rows
    read through it would open a transaction nobody ends, holding its locks and connection.
    """
    session = database().new_session()
    try:
        yield from rows_of(session)
    finally:
        session.close()


def _csv_response(blocks, name: str) -> Response:
    return Response(stream_with_context(blocks), content_type=CSV_MEDIA_TYPE,
                    headers={"Content-Disposition": content_disposition(name)})


@bp.get("/reports")
@role_required("supervisor")
def reports():
    """The list of reports."""
    return render_template("console/reports.html")


def _ledger_choice() -> capacity_ledger.LedgerChoice | None:
    raw = request.args.get("campaign", "").strip()
    campaign_id = parse_int(raw)
    if raw and campaign_id is None:
        raise capacity_ledger.LedgerError("campaign_unknown")
    if campaign_id is None:
        campaigns = capacity_ledger.campaigns(get_session())
        if not campaigns:
            return None
        campaign_id = campaigns[0].id
    return capacity_ledger.LedgerChoice(campaign_id, _day("from", None), _day("to", None))


def _ledger_or_error(*, every_slot: bool) -> tuple[capacity_ledger.CampaignLedger | None,
                                                   str | None]:
    try:
        choice = _ledger_choice()
        if choice is None:
            return None, None
        return capacity_ledger.build(get_session(), choice, settings().tz,
                                     every_slot=every_slot), None
    except BadDate:
        return None, translate("date_invalid")
    except capacity_ledger.LedgerError as exc:
        return None, translate(exc.key)


@bp.get("/reports/ledger")
@role_required("supervisor")
def capacity_ledger_page():
    """The ledger per campaign, day and slot, counted from booking rows; printable."""
    ledger, error = _ledger_or_error(every_slot=False)
    return render_template(
        "console/reports_ledger.html", ledger=ledger, error=error, args=request.args,
        campaigns=capacity_ledger.campaigns(get_session()), fields=capacity_ledger.COUNT_FIELDS,
        page_slot_days=capacity_ledger.PAGE_SLOT_DAYS,
    ), 400 if error else 200


@bp.get("/reports/ledger.csv")
@role_required("supervisor")
def capacity_ledger_csv():
    """The same ledger as a CSV for Excel (audited), streamed as the database counts it."""
    session = get_session()
    try:
        choice = _ledger_choice()
        if choice is None:
            raise capacity_ledger.LedgerError("no_campaigns")
        campaign = capacity_ledger.chosen_campaign(session, choice)
    except (BadDate, capacity_ledger.LedgerError) as exc:
        error = translate(exc.key if isinstance(exc, capacity_ledger.LedgerError)
                          else "date_invalid")
        return render_template(
            "console/reports_ledger.html", ledger=None, error=error, args=request.args,
            campaigns=capacity_ledger.campaigns(session), fields=capacity_ledger.COUNT_FIELDS,
        ), 400
    tz = settings().tz
    current_actor().audit(session, "export", "capacity_ledger", campaign.id, detail={
        "first_day": choice.first_day.isoformat() if choice.first_day else None,
        "last_day": choice.last_day.isoformat() if choice.last_day else None,
        "rows": capacity_ledger.slot_total(session, choice, tz),
    })
    language = current_language()

    def t(key: str, **values: object) -> str:
        return translate(key, language, **values)

    rows = _in_own_session(
        lambda own: capacity_ledger.streamed_csv_rows(own, choice, tz, t))
    return _csv_response(csv_blocks(capacity_ledger.csv_header(t), rows),
                         capacity_ledger.download_name(campaign, choice))


@bp.get("/reports/inquiries")
@role_required("supervisor")
def inquiry_analytics_page():
    """Inquiry categories over time, frequent topics, open cases, response and resolution."""
    today = _today()
    report, error = None, None
    try:
        choice = inquiry_analytics.ReportChoice(
            first_day=_day("from", today - timedelta(days=ANALYTICS_DEFAULT_DAYS - 1)),
            last_day=_day("to", today),
            granularity=request.args.get("per", "day"),
        )
        report = inquiry_analytics.analyse(get_session(), choice, settings().tz,
                                           config=settings().inquiries)
    except BadDate:
        error = translate("date_invalid")
    except inquiry_analytics.AnalyticsError as exc:
        error = translate(exc.key)
    return render_template("console/reports_inquiries.html", report=report, error=error,
                           args=request.args), 400 if error else 200


@bp.get("/reports/menu")
@role_required("supervisor")
def menu_print_page():
    """The phone menu as a tree to print for letters to residents, in an offered language."""
    offered = settings().languages.offered
    language = request.args.get("lang", current_language())
    if language not in offered:
        language = settings().languages.default
    lines = menu_print.printable_menu(get_session(), settings(), language)
    city = settings().city
    return render_template("console/reports_menu.html", lines=lines, menu_lang=language,
                           offered=offered, city_name=city.name if language == "ja"
                           else city.name_en, city_phone=city.phone_number)


def _export_choice() -> exports.ExportChoice:
    today = _today()
    choice = exports.ExportChoice(
        kind=request.args.get("kind", "calls"),
        first_day=_day("from", today - timedelta(days=EXPORT_DEFAULT_DAYS - 1)),
        last_day=_day("to", today),
    )
    exports.check_choice(choice)
    return choice


@bp.get("/reports/exports")
@role_required("supervisor")
def exports_page():
    """The form to export calls or inquiries for a range of days."""
    today = _today()
    return render_template(
        "console/reports_exports.html", args=request.args, error=None,
        first=today - timedelta(days=EXPORT_DEFAULT_DAYS - 1), last=today,
        reveal=current_user.has_role("admin"),
    )


@bp.get("/reports/export.csv")
@role_required("supervisor")
def export_csv():
    """Calls or inquiries of the range as a streamed CSV; numbers masked unless admin (audited)."""
    try:
        choice = _export_choice()
    except BadDate:
        error = translate("date_invalid")
    except exports.ExportError as exc:
        error = translate(exc.key)
    else:
        session, tz = get_session(), settings().tz
        reveal = current_user.has_role("admin")
        exports.record_export(session, current_actor(), choice, tz, reveal_phones=reveal)
        language = current_language()
        config = settings().inquiries

        def t(key: str, **values: object) -> str:
            return translate(key, language, **values)

        blocks = csv_blocks(exports.header(choice, t, tz), _in_own_session(
            lambda own: exports.rows(own, choice, tz, reveal_phones=reveal,
                                     category_name=lambda key: inquiry_categories.name(
                                         config, key, language))))
        return _csv_response(blocks, exports.filename(choice))
    today = _today()
    return render_template(
        "console/reports_exports.html", args=request.args, error=error,
        first=today - timedelta(days=EXPORT_DEFAULT_DAYS - 1), last=today,
        reveal=current_user.has_role("admin"),
    ), 400
