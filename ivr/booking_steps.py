"""The booking steps of the call: open slots, hold, confirm, move, cancel, and look-ups by code."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select

from ivr.case_steps import update_lines
from ivr.state import NO, YES, Ask, Go, Invalid, Outcome, options, yes_no
from madoguchi import booking, calls, codes, inquiries, phone, residents
from madoguchi.models import (
    ACTIVE_BOOKING_STATUSES,
    Booking,
    Campaign,
    Resident,
    ResidentPhone,
    Slot,
)
from madoguchi.telephony import get_telephony
from madoguchi.voice.speech import Line

if TYPE_CHECKING:
    from ivr.flow import CallFlow

log = logging.getLogger(__name__)


def _moving(flow: CallFlow) -> Booking | None:
    """The booking being moved, when this is a change of date rather than a new booking."""
    return flow.kept_booking() if flow.state.move else None


def q_slots(flow: CallFlow) -> Ask | Go:
    """Offer the earliest open slots, and a key for later dates."""
    state = flow.state
    if state.offered:
        slots = [s for s in (flow.session.get(Slot, i) for i in state.offered) if s is not None]
    else:
        after_slot = flow.session.get(Slot, state.after) if state.after else None
        after = after_slot.starts_at if after_slot else flow.now
        moving = _moving(flow)
        slots = booking.open_slots(
            flow.session, campaign_id=moving.campaign_id if moving else None, channel="ivr",
            after=after, limit=flow.settings.booking.slots_offered,
            exclude_slot_id=moving.slot_id if moving else None,
        )
        if not slots and after_slot is not None:
            return Go("slots", ("slots_no_more",))
    if not slots:
        calls.set_outcome(flow.session, flow.call, "self_served")
        return Go("after_task", ("slots_none",))
    lines, choices = [], {}
    for index, slot in enumerate(slots, start=1):
        lines.append(flow.speaker.line("slot_option", when=flow.speaker.when(slot.starts_at),
                                       place=flow.place(slot), key=index))
        choices[str(index)] = f"slot:{slot.id}"
    lines.append(flow.speaker.line("slots_later", key=flow.later_key))
    choices[flow.later_key] = "later"
    return Ask(("slots_intro", *lines), tuple(lines), choices, offered=tuple(s.id for s in slots))


def _booking_lines(flow: CallFlow, key: str, slot: Slot) -> Line:
    return flow.speaker.line(key, when=flow.speaker.when(slot.starts_at), place=flow.place(slot))


def q_book_ok(flow: CallFlow) -> Ask | Go:
    """Read the held slot back and ask to confirm the booking."""
    kept = flow.kept_booking()
    if kept is None or kept.status not in ACTIVE_BOOKING_STATUSES:
        return Go("slots", ("hold_expired",))
    lines = (_booking_lines(flow, "book_readback", kept.slot), yes_no(flow, "book_confirm"))
    return Ask(lines, lines, {YES: "yes", NO: "no"})


def q_existing(flow: CallFlow) -> Ask | Go:
    """Read an existing booking and offer to change, cancel or keep it."""
    kept = flow.kept_booking()
    if kept is None:
        return Go("menu")
    lines, choices = options(flow, [("option_change", "1", "change"),
                                    ("option_cancel", "2", "cancel"),
                                    ("option_keep", "3", "keep")])
    heading = (_booking_lines(flow, "existing_booking", kept.slot),
               flow.speaker.line("reference_code", code=flow.speaker.digits(kept.reference)))
    return Ask((*heading, *lines), lines, choices)


def q_move_ok(flow: CallFlow) -> Ask | Go:
    """Read the new slot back and ask to confirm the change."""
    slot = flow.session.get(Slot, flow.state.item) if flow.state.item else None
    if slot is None or flow.kept_booking() is None:
        return Go("menu")
    lines = (_booking_lines(flow, "move_readback", slot), yes_no(flow, "book_confirm"))
    return Ask(lines, lines, {YES: "yes", NO: "no"})


def q_cancel_ok(flow: CallFlow) -> Ask | Go:
    """Read the booking back and ask for an explicit yes to cancel it."""
    kept = flow.kept_booking()
    if kept is None:
        return Go("menu")
    lines = (_booking_lines(flow, "cancel_readback", kept.slot), yes_no(flow, "cancel_confirm"))
    return Ask(lines, lines, {YES: "yes", NO: "no"})


def c_slots(flow: CallFlow, value: str) -> Outcome:
    """Hold the chosen slot (or confirm a move), or offer later dates."""
    if value == "later":
        return Go("slots", changes={"after": flow.state.offered[-1]})
    slot_id = int(value.removeprefix("slot:"))
    if flow.state.move:
        return Go("move_ok", changes={"item": slot_id})
    return _hold(flow, slot_id)


def _hold(flow: CallFlow, slot_id: int) -> Outcome:
    call = flow.call
    if call.resident_id is None:
        return Go("identify", changes={"goal": "book"})

    def work() -> dict:
        held = booking.hold(
            flow.session, slot_id=slot_id, resident_id=call.resident_id, channel="ivr",
            hold_minutes=flow.settings.booking.hold_minutes, call_sid=call.call_sid,
            idempotency_key=f"ivr:{call.call_sid}:{flow.state.nonce}"[:100],
        )
        return {"booking_id": held.id}

    try:
        result = calls.once(flow.session, call, f"hold:{flow.state.nonce}", work)
    except booking.SlotFull:
        calls.add_path(flow.session, call, "slot_full")
        return Go("slots", ("slot_full",))
    except booking.AlreadyBooked as exc:
        if exc.existing is None:
            return Go("book")
        return _read_back(flow, exc.existing)
    except booking.BookingError:
        return Go("person", ("not_eligible",))
    calls.remember(flow.session, call, "booking_id", result["booking_id"])
    return Go("book_ok")


def _sms_number(flow: CallFlow, resident: Resident | None) -> str | None:
    if flow.call.from_e164 and phone.is_mobile(flow.call.from_e164):
        return flow.call.from_e164
    if resident is None:
        return None
    mobile = flow.session.scalar(
        select(ResidentPhone.e164).where(ResidentPhone.resident_id == resident.id,
                                         ResidentPhone.is_mobile.is_(True))
    )
    return mobile


def _send_confirmation(flow: CallFlow, kept: Booking, key: str = "sms_booked") -> bool:
    """Text the booking (or its new date) to a mobile; a failed text never fails the booking."""
    number = _sms_number(flow, flow.resident())
    if number is None:
        return False
    # The slot by its id: after a move the booking's relationship may still name the old one.
    slot = flow.session.get(Slot, kept.slot_id)
    body = flow.speaker.catalog.text(
        key, city=flow.city_name(), when=flow.speaker.when(slot.starts_at),
        place=flow.place(slot), code=kept.reference,
    )
    try:
        get_telephony().send_sms(number, body)
    except Exception:
        log.exception("booking SMS to %s failed", phone.mask(number))
        return False
    return True


def _booked_lines(flow: CallFlow, first: str, reference: str, sms: bool) -> tuple:
    lines = (first, *flow.code_lines("reference_code", "reference_again", reference))
    return (*lines, "sms_sent") if sms else lines


def c_book_ok(flow: CallFlow, value: str) -> Outcome:
    """Confirm the held booking and say its code twice, or release it."""
    kept = flow.kept_booking()
    if kept is None:
        return Go("menu")
    if value == "no":
        calls.once(flow.session, flow.call, f"release:{flow.state.nonce}", lambda: {
            "status": booking.cancel(flow.session, kept.reference,
                                     reason="declined on the phone line").status})
        return Go("slots")

    def work() -> dict:
        confirmed = booking.confirm(flow.session, kept.reference)
        return {"reference": confirmed.reference, "sms": _send_confirmation(flow, confirmed)}

    try:
        result = calls.once(flow.session, flow.call, f"confirm:{flow.state.nonce}", work)
    except booking.HoldExpired:
        return Go("slots", ("hold_expired",))
    calls.set_outcome(flow.session, flow.call, "booked")
    calls.add_path(flow.session, flow.call, "booked")
    return Go("after_task", _booked_lines(flow, "booked", result["reference"], result["sms"]))


def c_existing(flow: CallFlow, value: str) -> Outcome:
    """Change, cancel or keep the existing booking."""
    if value == "change":
        return Go("slots", changes={"move": True})
    if value == "cancel":
        return Go("cancel_ok")
    calls.set_outcome(flow.session, flow.call, "self_served")
    return Go("after_task")


def c_move_ok(flow: CallFlow, value: str) -> Outcome:
    """Move the booking to the chosen slot once confirmed."""
    kept = flow.kept_booking()
    if value == "no" or kept is None or flow.state.item is None:
        return Go("slots", changes={"move": True})
    slot_id = flow.state.item

    def work() -> dict:
        moved = booking.reschedule(flow.session, kept.reference, slot_id)
        return {"reference": moved.reference, "slot_id": moved.slot_id,
                "sms": _send_confirmation(flow, moved, "sms_moved")}

    try:
        result = calls.once(flow.session, flow.call, f"move:{flow.state.nonce}", work)
    except booking.SlotFull:
        return Go("slots", ("slot_full",), {"move": True})
    except booking.BookingError:
        return Go("person", ("not_eligible",))
    calls.set_outcome(flow.session, flow.call, "booked")
    calls.add_path(flow.session, flow.call, "moved")
    return Go("after_task", _booked_lines(flow, "moved", result["reference"],
                                          bool(result.get("sms"))), {"move": False})


def c_cancel_ok(flow: CallFlow, value: str) -> Outcome:
    """Cancel the booking only on an explicit yes."""
    kept = flow.kept_booking()
    if value == "no" or kept is None:
        return Go("after_task", ("not_cancelled",))
    try:
        calls.once(flow.session, flow.call, f"cancel:{flow.state.nonce}", lambda: {
            "status": booking.cancel(flow.session, kept.reference,
                                     reason="cancelled by the resident on the phone line").status})
    except booking.BookingError:
        return Go("person", ("not_eligible",))
    calls.set_outcome(flow.session, flow.call, "self_served")
    calls.add_path(flow.session, flow.call, "cancelled")
    return Go("after_task", ("cancelled",), {"move": False})


def e_code(flow: CallFlow, digits: str) -> Outcome:
    """A booking code leads to the booking; an inquiry number to its status."""
    kind = codes.kind_of(digits)
    if kind == "booking":
        found = booking.find_booking(flow.session, digits)
        if found is None:
            return Invalid("code_not_found")
        if found.status not in ACTIVE_BOOKING_STATUSES:
            calls.set_outcome(flow.session, flow.call, "self_served")
            return Go("after_task", ("already_cancelled",))
        if _holder_known(flow, found):
            return _read_back(flow, found)
        # The number alone changes nothing: the holder's birth date must match first.
        calls.remember(flow.session, flow.call, "code_booking_id", found.id)
        return Go("birth", ("identify_callerid",), {"goal": "code"})
    if kind == "inquiry":
        inquiry = inquiries.find(flow.session, digits)
        if inquiry is None:
            return Invalid("code_not_found")
        status = flow.speaker.catalog.text(f"status_{inquiry.status}")
        lines: list[Line | str] = [flow.speaker.line(
            "inquiry_status", code=flow.speaker.digits(digits), status=status)]
        update = inquiries.last_public_update(inquiry)
        if update is not None:
            lines.extend(update_lines(flow, update.text))
        calls.set_outcome(flow.session, flow.call, "self_served")
        calls.add_path(flow.session, flow.call, "inquiry_status")
        return Go("after_task", tuple(lines))
    return Invalid("code_not_found")


def _holder_known(flow: CallFlow, found: Booking) -> bool:
    """True when this call already knows the booking's holder: identified, or their caller ID."""
    if flow.resident_id() == found.resident_id:
        return True
    number = flow.caller_number()
    return bool(number) and any(
        r.id == found.resident_id for r in residents.by_phone(flow.session, number))


def code_holder(flow: CallFlow) -> Resident | None:
    """The holder of the booking named by its reference, still to be confirmed by birth date."""
    booking_id = calls.recall(flow.session, flow.call, "code_booking_id")
    found = flow.session.get(Booking, booking_id) if isinstance(booking_id, int) else None
    return found.resident if found is not None else None


def code_identified(flow: CallFlow) -> Go:
    """The holder confirmed their birth date: the named booking is theirs to change."""
    booking_id = calls.recall(flow.session, flow.call, "code_booking_id")
    calls.forget(flow.session, flow.call, "code_booking_id")
    found = flow.session.get(Booking, booking_id) if isinstance(booking_id, int) else None
    if found is None:
        return Go("check_identified")
    return _read_back(flow, found, ("identify_ok",))


def _active_booking(flow: CallFlow) -> Booking | None:
    return flow.session.scalar(
        select(Booking)
        .join(Campaign, Campaign.id == Booking.campaign_id)
        .where(Booking.resident_id == flow.call.resident_id, Campaign.active.is_(True),
               Booking.status.in_(ACTIVE_BOOKING_STATUSES))
        .order_by(Booking.id)
    )


def _read_back(flow: CallFlow, found: Booking, preface: tuple[str, ...] = ()) -> Go:
    """Take the caller to their booking: a confirmed one is read with its code, to change,
    cancel or keep; a place only held (a call cut off before its yes, another channel's
    booking left half-way) is read back to be confirmed, never announced as a booking, which
    would let the hold run out on a caller told they were booked."""
    calls.remember(flow.session, flow.call, "booking_id", found.id)
    if found.status == "held":
        return Go("book_ok", (*preface, "hold_not_confirmed"))
    return Go("existing", preface)


def r_book(flow: CallFlow) -> Outcome:
    """An existing booking is read first; otherwise the open slots."""
    if flow.call.resident_id is None:
        return Go("identify", changes={"goal": "book"})
    existing = _active_booking(flow)
    if existing is not None:
        return _read_back(flow, existing)
    return Go("slots", changes={"move": False})


def r_check_identified(flow: CallFlow) -> Outcome:
    """Read the identified caller's booking, or say there is none."""
    existing = _active_booking(flow) if flow.call.resident_id is not None else None
    if existing is None:
        calls.set_outcome(flow.session, flow.call, "self_served")
        return Go("after_task", ("no_booking",))
    return _read_back(flow, existing)
