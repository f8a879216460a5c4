"""The operators' live work screen: own state, the line, the connected call, screen pop, wrap-up."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from agent_console.blueprint import bp
from agent_console.forms import ActionForm, BookForm, CancelForm, InquiryCreateForm, MoveForm
from agent_console.i18n import translate
from agent_console.live_stream import sse_response
from agent_console.security import role_required
from agent_console.services import (
    appointments,
    inquiry_desk,
    line_view,
    operator_line,
    resident_desk,
    work_desk,
)
from agent_console.views.appointment_posts import post_appointment
from agent_console.views.common import current_actor, parse_date, parse_int, settings
from call_queue import line_services, taking
from madoguchi import phone
from madoguchi.db import get_session
from madoguchi.inquiries import InquiryError
from madoguchi.inquiry_categories import UnknownCategory
from madoguchi.models import Resident, utcnow
from madoguchi.redis_conn import get_redis
from madoguchi.resident_terms import MAX_NAME_WORDS
from madoguchi.telephony import TelephonyError, get_telephony

log = logging.getLogger(__name__)
STREAM_INTERVAL_SECONDS = 3.0


class WrapUpForm(FlaskForm):
    """After a call: what it was about (a fixed list) and notes; the next state is the button."""

    call_id = HiddenField()
    disposition = StringField(validators=[DataRequired(), Length(max=30)])
    notes = TextAreaField(validators=[Optional(), Length(max=work_desk.NOTES_MAX)])


def _line() -> operator_line.OperatorLine:
    return operator_line.operator_line(settings(), get_telephony(), get_redis())


def _live_parts() -> dict:
    """Everything on the screen that changes by itself, rendered, plus what the script needs."""
    session = get_session()
    now = utcnow()
    state = work_desk.own_state(line_services.board(), current_user.id, now, session)
    on_call = work_desk.connected(session, _line(), current_user.id)
    to_wrap = work_desk.call_to_wrap(session, current_user.id)
    values = {
        "state": state, "connected": on_call, "holders": line_view.holders(session, now),
        "callbacks": line_view.callbacks(session, now),
        "action_form": ActionForm(formdata=None),
    }
    return {
        "state": state.state,
        "wrap_until": state.until.isoformat() if state.until else None,
        "wrap_call_id": to_wrap.id if to_wrap else None,
        "pop": on_call.party.resident_id if on_call else None,
        "html": {
            part: render_template(f"console/work/_{part}.html", **values)
            for part in ("state", "connected", "holders", "callbacks")
        },
    }


def _back_to_work(resident_id: int | None = None):
    return redirect(url_for("console.work", resident=resident_id or None,
                            day=request.form.get("day") or None,
                            site=request.form.get("site") or None))


def _to_taken_caller():
    """Back to work with the record of the caller just taken open, when the line knows them."""
    party = work_desk.taken_party(get_session(), current_user.id)
    return _back_to_work(party.resident_id if party else None)


@bp.route("/work", methods=["GET", "POST"])
@role_required("operator")
def work():
    """The work screen; the resident shown is the chosen one, else the connected caller's.

    Its search is posted (see console.residents): what was typed never travels in the address.
    """
    session = get_session()
    live = _live_parts()
    query = request.form.get("q", "").strip() if request.method == "POST" else ""
    found = (resident_desk.search(session, current_actor(), query,
                                  region=settings().city.region) if query else None)
    resident_id = parse_int(request.args.get("resident")) or (None if query else live["pop"])
    record = (resident_desk.open_record(session, current_actor(), resident_id)
              if resident_id else None)
    tz = settings().tz
    day = parse_date(request.args.get("day")) or datetime.now(tz).date()
    site_id = parse_int(request.args.get("site"))
    return render_template(
        "console/work.html", live=live, query=query, found=found, record=record,
        day=day, site_id=site_id, moving=request.args.get("move"),
        sites=appointments.sites(session) if record else [],
        slots=appointments.day_slots(session, day, tz, site_id=site_id) if record else [],
        wrap_form=WrapUpForm(formdata=None, call_id=live["wrap_call_id"] or ""),
        dispositions=work_desk.DISPOSITIONS, wrap_seconds=settings().queue.wrap_up_seconds,
        action_form=ActionForm(formdata=None), book_form=BookForm(formdata=None),
        move_form=MoveForm(formdata=None), cancel_form=CancelForm(formdata=None),
        inquiry_form=InquiryCreateForm(formdata=None),
        uses_twilio=settings().uses_twilio, menu_nodes=line_view.menu_nodes,
        max_name_words=MAX_NAME_WORDS,
    ), 400 if found is not None and found.too_many_words else 200


@bp.get("/work/stream")
@role_required("operator")
def work_stream():
    """The live parts of the work screen as server-sent events, sent when they change."""
    lifetime = current_app.config.get("CONSOLE_STREAM_LIFETIME_SECONDS", 55.0)
    return sse_response(_live_parts, get_redis(), interval=STREAM_INTERVAL_SECONDS,
                        lifetime=lifetime)


@bp.post("/work/state")
@role_required("operator")
def work_state():
    """Available (takes the next caller at once), away or offline."""
    chosen = request.form.get("state", "")
    if not ActionForm().validate_on_submit() or chosen not in taking.OWN_STATES:
        flash(translate("form_invalid"), "error")
        return _back_to_work()
    try:
        taken = taking.set_own_state(get_session(), current_user.id, chosen)
    except taking.StillOnCall:
        flash(translate("work_still_on_call"), "error")
        return _back_to_work()
    flash(translate(f"state_now_{chosen}"), "info")
    if taken:
        flash(translate("work_taken_next"), "success")
        return _to_taken_caller()
    if chosen == "available" and line_services.dispatch_paused():
        flash(translate("work_line_paused"), "error")
    return _back_to_work()


@bp.post("/work/take-next")
@role_required("operator")
def work_take_next():
    """Take the next party in the fair order now (the same as going available)."""
    if not ActionForm().validate_on_submit():
        flash(translate("form_invalid"), "error")
        return _back_to_work()
    try:
        taken = taking.set_own_state(get_session(), current_user.id, "available")
    except taking.StillOnCall:
        flash(translate("work_still_on_call"), "error")
        return _back_to_work()
    if taken:
        flash(translate("work_taken_next"), "success")
        return _to_taken_caller()
    if line_services.dispatch_paused():
        flash(translate("work_line_paused"), "error")
        return _back_to_work()
    flash(translate("work_nobody_waiting"), "info")
    return _back_to_work()


@bp.post("/work/take")
@role_required("supervisor")
def work_take_this_one():
    """A supervisor takes one chosen holder or callback out of order."""
    kind = request.form.get("kind", "")
    party_id = parse_int(request.form.get("party"))
    if not ActionForm().validate_on_submit() or kind not in ("holding", "callback") \
            or party_id is None:
        flash(translate("form_invalid"), "error")
        return _back_to_work()
    try:
        taking.take_this_one(get_session(), current_user.id, kind, party_id)
    except taking.NotWaiting:
        flash(translate("work_party_gone"), "error")
        return _back_to_work()
    except taking.StillOnCall:
        flash(translate("work_still_on_call"), "error")
        return _back_to_work()
    except TelephonyError as exc:
        log.warning("operator %s could not take a party: %s", current_actor().operator_id,
                    phone.redact(str(exc)))
        flash(translate("work_take_failed"), "error")
        return _back_to_work()
    flash(translate("work_taken_this_one"), "success")
    return _to_taken_caller()


@bp.post("/work/end-call")
@role_required("operator")
def work_end_call():
    """Hang up the operator's side of the connected call."""
    if not ActionForm().validate_on_submit():
        flash(translate("form_invalid"), "error")
        return _back_to_work()
    try:
        ended = work_desk.end_call(get_session(), _line(), current_actor())
    except TelephonyError as exc:
        log.warning("operator %s could not end call: %s", current_actor().operator_id,
                    phone.redact(str(exc)))
        flash(translate("work_end_call_failed"), "error")
        return _back_to_work(parse_int(request.form.get("resident")))
    if not ended:
        flash(translate("work_no_call"), "error")
        return _back_to_work()
    flash(translate("work_call_ended"), "info")
    return _back_to_work(parse_int(request.form.get("resident")))


@bp.post("/work/wrap-up")
@role_required("operator")
def work_wrap_up():
    """Save disposition and notes of the call just ended, then available or away."""
    form = WrapUpForm()
    next_state = request.form.get("next", "")
    if not form.validate_on_submit() or next_state not in work_desk.NEXT_STATES:
        flash(translate("form_invalid"), "error")
        return _back_to_work()
    session = get_session()
    try:
        work_desk.save_wrap_up(session, current_actor(), parse_int(form.call_id.data),
                               disposition=form.disposition.data or "",
                               notes=form.notes.data or "")
    except work_desk.WrapUpError as exc:
        flash(translate(exc.key), "error")
        return _back_to_work()
    try:
        taken = taking.set_own_state(session, current_user.id, next_state)
    except taking.StillOnCall:
        # Saved, but the call is not over yet: its end moves the operator to wrap-up.
        flash(translate("wrap_up_saved"), "success")
        flash(translate("work_still_on_call"), "error")
        return _back_to_work()
    flash(translate("wrap_up_saved"), "success")
    if taken:
        flash(translate("work_taken_next"), "success")
        return _to_taken_caller()
    return _back_to_work()


def _appointment(action: str, resident_id: int):
    def back():
        return _back_to_work(resident_id)

    return post_appointment(action, resident_id, back=back, refused=back)


@bp.post("/work/residents/<int:resident_id>/book")
@role_required("operator")
def work_book(resident_id: int):
    """Book a slot for the caller; a full slot or an existing booking is said plainly."""
    return _appointment("book", resident_id)


@bp.post("/work/residents/<int:resident_id>/move")
@role_required("operator")
def work_move(resident_id: int):
    """Move the caller's booking to another slot, keeping its code."""
    return _appointment("move", resident_id)


@bp.post("/work/residents/<int:resident_id>/cancel")
@role_required("operator")
def work_cancel(resident_id: int):
    """Cancel one of the caller's bookings."""
    return _appointment("cancel", resident_id)


@bp.post("/work/residents/<int:resident_id>/inquiry")
@role_required("operator")
def work_inquiry(resident_id: int):
    """Log an inquiry for the caller and show its reference to read out."""
    form = InquiryCreateForm()
    if not form.validate_on_submit():
        flash(translate("form_invalid"), "error")
        return _back_to_work(resident_id)
    session = get_session()
    if session.get(Resident, resident_id) is None:
        abort(404)
    try:
        created = inquiry_desk.create(
            session, current_actor(), config=settings().inquiries, category=form.category.data,
            subject=form.subject.data,
            note=form.note.data or "", contact_phone=form.contact_phone.data or "",
            resident_id=resident_id, region=settings().city.region,
        )
    except InquiryError as exc:
        if isinstance(exc, inquiry_desk.InvalidContactPhone):
            message = translate("phone_invalid")
        elif isinstance(exc, UnknownCategory):
            message = translate("category_unknown")
        else:
            message = f"{translate('form_invalid')} ({exc})"
        flash(message, "error")
        return _back_to_work(resident_id)
    flash(translate("inquiry_created", reference=created.reference), "success")
    return _back_to_work(resident_id)
