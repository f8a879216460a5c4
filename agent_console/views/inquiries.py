"""The inquiry list with filters, logging a new inquiry, and one inquiry's page."""

from __future__ import annotations

import io
import logging

from flask import abort, flash, redirect, render_template, request, send_file, url_for

from agent_console.blueprint import bp
from agent_console.forms import InquiryCreateForm, InquiryUpdateForm
from agent_console.i18n import translate
from agent_console.security import role_required
from agent_console.services import inquiry_desk, resident_desk
from agent_console.services.accounts import active_operators, all_operators
from agent_console.views.common import current_actor, parse_int, settings
from madoguchi.db import get_session
from madoguchi.inquiries import InquiryError
from madoguchi.inquiry_categories import UnknownCategory
from madoguchi.models import Resident
from madoguchi.telephony import TelephonyError, get_telephony
from madoguchi.telephony.base import RecordingNotFound

log = logging.getLogger(__name__)


def _assignees() -> list[tuple[int, str]]:
    return [(op.id, op.display_name) for op in active_operators(get_session())]


def _inquiry_error(exc: InquiryError) -> str:
    if isinstance(exc, inquiry_desk.InvalidContactPhone):
        return translate("phone_invalid")
    if isinstance(exc, UnknownCategory):
        return translate("category_unknown")
    return f"{translate('form_invalid')} ({exc})"


@bp.get("/inquiries")
@role_required("operator")
def inquiries():
    """Inquiries filtered by status, category and overdue, newest first."""
    session = get_session()
    chosen = inquiry_desk.InquiryFilter(
        status=request.args.get("status", ""),
        category=request.args.get("category", ""),
        overdue=request.args.get("overdue") == "1",
    )
    operators = {op.id: op.display_name for op in active_operators(session)}
    return render_template(
        "console/inquiries.html",
        items=inquiry_desk.list_inquiries(session, chosen),
        chosen=chosen,
        operators=operators,
        is_overdue=inquiry_desk.is_overdue,
    )


@bp.route("/inquiries/new", methods=["GET", "POST"])
@role_required("operator")
def new_inquiry():
    """Log a new inquiry and show its reference number to read to the caller."""
    session = get_session()
    form = InquiryCreateForm()
    if request.method == "GET":
        form.resident_id.data = request.args.get("resident", "")
    status = 200
    resident_id = parse_int(form.resident_id.data)
    resident = session.get(Resident, resident_id) if resident_id else None
    if form.validate_on_submit():
        try:
            created = inquiry_desk.create(
                session,
                current_actor(),
                config=settings().inquiries,
                category=form.category.data,
                subject=form.subject.data,
                note=form.note.data or "",
                contact_phone=form.contact_phone.data or "",
                resident_id=resident.id if resident else None,
                assigned_to_id=form.assigned_to.data or None,
                due=inquiry_desk.due_at(form.due_date.data, settings().tz),
                region=settings().city.region,
            )
        except InquiryError as exc:
            flash(_inquiry_error(exc), "error")
            status = 400
        else:
            flash(translate("inquiry_created", reference=created.reference), "success")
            return redirect(url_for("console.inquiry", inquiry_id=created.id))
    elif request.method == "POST":
        flash(translate("form_invalid"), "error")
        status = 400
    if resident is not None:
        resident_desk.note_shown(session, current_actor(), resident, page="new inquiry")
    return render_template(
        "console/inquiry_new.html", form=form, resident=resident, assignees=_assignees(),
    ), status


@bp.route("/inquiries/<int:inquiry_id>", methods=["GET", "POST"])
@role_required("operator")
def inquiry(inquiry_id: int):
    """One inquiry: its reference to read out, timeline, and the update form (audited)."""
    session = get_session()
    actor = current_actor()
    item = inquiry_desk.open_inquiry(session, actor, inquiry_id)
    if item is None:
        abort(404)
    tz = settings().tz
    form = InquiryUpdateForm(
        formdata=None if request.method == "GET" else request.form,
        status=item.status,
        category=item.category,
        assigned_to=item.assigned_to_id or 0,
        due_date=item.due_at.astimezone(tz).date() if item.due_at else None,
    )
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                inquiry_desk.update(
                    session, actor, item,
                    config=settings().inquiries,
                    status=form.status.data,
                    category=form.category.data,
                    assigned_to_id=form.assigned_to.data or None,
                    due=inquiry_desk.due_at(form.due_date.data, tz),
                    note=form.note.data or "",
                    public_text=form.public_text.data or "",
                )
            except InquiryError as exc:
                flash(_inquiry_error(exc), "error")
                status = 400
            else:
                flash(translate("inquiry_updated"), "success")
                return redirect(url_for("console.inquiry", inquiry_id=item.id))
        else:
            flash(translate("form_invalid"), "error")
            status = 400
    names = {op.id: op.display_name for op in all_operators(session)}
    return render_template(
        "console/inquiry.html", item=item, form=form, names=names, assignees=_assignees(),
        spoken=inquiry_desk.spoken_reference(item.reference),
        overdue=inquiry_desk.is_overdue(item),
        recordings=inquiry_desk.recordings(item),
    ), status


@bp.get("/inquiries/<int:inquiry_id>/recordings/<int:event_id>")
@role_required("operator")
def inquiry_recording(inquiry_id: int, event_id: int):
    """A case's recording, streamed through Madoguchi so the network's address stays hidden."""
    session = get_session()
    try:
        audio = inquiry_desk.play_recording(session, current_actor(), inquiry_id, event_id,
                                            get_telephony())
    except RecordingNotFound:
        abort(404)
    except TelephonyError as exc:
        log.warning("recording of case %d not fetched: %s", inquiry_id, exc)
        return translate("recording_unavailable"), 502
    response = send_file(io.BytesIO(audio.content), mimetype=audio.content_type,
                         conditional=True, download_name=f"recording-{event_id}")
    # A resident's voice: never kept by the browser or a proxy.
    response.headers["Cache-Control"] = "no-store, private"
    return response
