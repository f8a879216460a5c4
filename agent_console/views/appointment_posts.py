"""Booking, moving and cancelling posted from the resident page and the work screen alike.

Each action validates its form, calls agent_console.services.appointments (which audits it,
refused or not) and flashes the outcome in the operator's language; the page that posted
decides where the answer goes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import flash
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session

from agent_console import formats
from agent_console.forms import BookBeyondCapacityForm, BookForm, CancelForm, MoveForm
from agent_console.i18n import current_language, translate
from agent_console.services import appointments
from agent_console.services.actor import Actor
from agent_console.views.common import current_actor, settings
from madoguchi.booking import BookingError
from madoguchi.db import get_session
from madoguchi.models import Booking


@dataclass(frozen=True)
class AppointmentAction:
    """One kind of post: its form, the message for a bad form, the service, the success message."""

    form: type[FlaskForm]
    invalid_key: str
    carry_out: Callable[[Session, Actor, int, FlaskForm], Booking]
    done_message: Callable[[Booking], str]


def _book(session: Session, actor: Actor, resident_id: int, form) -> Booking:
    return appointments.book_for(session, actor, resident_id, form.slot_id.data)


def _book_beyond_capacity(session: Session, actor: Actor, resident_id: int, form) -> Booking:
    return appointments.book_beyond_capacity_for(session, actor, resident_id, form.slot_id.data,
                                                 form.reason.data)


def _move(session: Session, actor: Actor, resident_id: int, form) -> Booking:
    return appointments.move_for(session, actor, resident_id, form.reference.data,
                                 form.slot_id.data)


def _cancel(session: Session, actor: Actor, resident_id: int, form) -> Booking:
    return appointments.cancel_for(session, actor, resident_id, form.reference.data,
                                   form.reason.data or "")


def _booked(made: Booking) -> str:
    # A slot that still had a place is booked as usual, and said so.
    key = "booked_beyond_capacity_ok" if made.overridden else "booked_ok"
    return translate(key, reference=made.reference)


def _moved(moved: Booking) -> str:
    when = formats.moment(moved.slot.starts_at, current_language(), settings().tz)
    return translate("moved_ok", when=when, reference=moved.reference)


def _cancelled(done: Booking) -> str:
    return translate("cancelled_ok", reference=done.reference)


ACTIONS = {
    "book": AppointmentAction(BookForm, "form_invalid", _book, _booked),
    "book_beyond_capacity": AppointmentAction(
        BookBeyondCapacityForm, "beyond_capacity_reason_missing", _book_beyond_capacity, _booked),
    "move": AppointmentAction(MoveForm, "form_invalid", _move, _moved),
    "cancel": AppointmentAction(CancelForm, "form_invalid", _cancel, _cancelled),
}


def post_appointment(action: str, resident_id: int, *,
                     back: Callable[[], ResponseReturnValue],
                     refused: Callable[[], ResponseReturnValue]) -> ResponseReturnValue:
    """Carry out a posted action for the resident and flash how it went.

    `back` answers a bad form and a success; `refused` answers a booking rule that said no
    (a full slot, an existing booking), after its reason is flashed.
    """
    chosen = ACTIONS[action]
    form = chosen.form()
    if not form.validate_on_submit():
        flash(translate(chosen.invalid_key), "error")
        return back()
    try:
        result = chosen.carry_out(get_session(), current_actor(), resident_id, form)
    except BookingError as exc:
        flash(appointments.error_message(exc), "error")
        return refused()
    flash(chosen.done_message(result), "success")
    return back()
