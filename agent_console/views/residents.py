"""Resident search, the resident page, and booking / moving / cancelling from it."""

from __future__ import annotations

from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from agent_console.blueprint import bp
from agent_console.forms import ActionForm, BookForm, CancelForm, MoveForm
from agent_console.i18n import translate
from agent_console.security import role_required
from agent_console.services import appointments, resident_desk
from agent_console.views.appointment_posts import post_appointment
from agent_console.views.common import current_actor, parse_date, parse_int, settings
from madoguchi.db import get_session
from madoguchi.resident_terms import MAX_NAME_WORDS


@bp.route("/residents", methods=["GET", "POST"])
@role_required("operator")
def residents():
    """The search box and, after a search, the residents found (the search is audited).

    The search is posted: a name, phone number or birth date typed in would otherwise travel
    in the address, into the browser's history and any proxy's log.
    """
    query = request.form.get("q", "").strip() if request.method == "POST" else ""
    result = None
    if query:
        result = resident_desk.search(
            get_session(), current_actor(), query, region=settings().city.region
        )
    refused = result is not None and result.too_many_words
    return render_template("console/residents.html", query=query, result=result,
                           max_name_words=MAX_NAME_WORDS), 400 if refused else 200


def _render_resident(resident_id: int, *, reveal: bool = False, status: int = 200,
):
    session = get_session()
    record = resident_desk.open_record(session, current_actor(), resident_id,
                                       reveal_phones=reveal)
    if record is None:
        abort(404)
    tz = settings().tz
    day = parse_date(request.values.get("day")) or datetime.now(tz).date()
    site_id = parse_int(request.values.get("site"))
    slots = appointments.day_slots(session, day, tz, site_id=site_id)
    return render_template(
        "console/resident.html",
        record=record,
        show_phones=resident_desk.phones_visible(current_user.role, record.phones_revealed),
        day=day,
        site_id=site_id,
        sites=appointments.sites(session),
        slots=slots,
        book_form=BookForm(formdata=None),
        move_form=MoveForm(formdata=None),
        cancel_form=CancelForm(formdata=None),
        reveal_form=ActionForm(formdata=None),
        moving=request.values.get("move"),
    ), status


@bp.get("/residents/<int:resident_id>")
@role_required("operator")
def resident(resident_id: int):
    """A resident's record: details, bookings, inquiries, calls, and slots to book (audited)."""
    return _render_resident(resident_id)


@bp.post("/residents/<int:resident_id>/reveal")
@role_required("operator")
def reveal_phones(resident_id: int):
    """Show the full phone numbers once, for a caller who needs them read back (audited)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    flash(translate("phone_revealed"), "info")
    return _render_resident(resident_id, reveal=True)


def _back_to_resident(resident_id: int):
    return redirect(url_for("console.resident", resident_id=resident_id,
                            day=request.form.get("day") or None,
                            site=request.form.get("site") or None))


def _appointment(action: str, resident_id: int):
    return post_appointment(
        action, resident_id, back=lambda: _back_to_resident(resident_id),
        refused=lambda: _render_resident(resident_id, status=409))


@bp.post("/residents/<int:resident_id>/book")
@role_required("operator")
def book(resident_id: int):
    """Book the chosen slot; a full slot or an existing booking is said plainly."""
    return _appointment("book", resident_id)


@bp.post("/residents/<int:resident_id>/book-beyond-capacity")
@role_required("supervisor")
def book_beyond_capacity(resident_id: int):
    """A supervisor books a full slot as a counted exception, with the reason given."""
    return _appointment("book_beyond_capacity", resident_id)


@bp.post("/residents/<int:resident_id>/move")
@role_required("operator")
def move(resident_id: int):
    """Move a booking to the chosen slot, keeping its code."""
    return _appointment("move", resident_id)


@bp.post("/residents/<int:resident_id>/cancel")
@role_required("operator")
def cancel(resident_id: int):
    """Cancel one of the resident's bookings."""
    return _appointment("cancel", resident_id)
