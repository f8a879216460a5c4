"""Finding a resident and opening their record; every search and every view is audited."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_console.services.actor import Actor
from madoguchi import booking, phone, residents
from madoguchi.models import Booking, Call, Inquiry, Resident

# Only digits, spaces, hyphens, brackets and a leading +: the text may be a phone number.
_PHONE_LIKE = re.compile(r"^\+?[\d\s\-‐‑–—―ー()（）０-９＋]{6,}$")
RECENT_CALLS = 20


@dataclass(frozen=True)
class SearchResult:
    """Residents found for a typed text, and whether it was read as a phone number."""

    residents: list[Resident]
    phone_e164: str | None


@dataclass(frozen=True)
class ResidentRecord:
    """A resident with their bookings, inquiries and recent calls."""

    resident: Resident
    bookings: list[Booking]
    inquiries: list[Inquiry]
    calls: list[Call]
    phones_revealed: bool


def search(session: Session, actor: Actor, text: str, *, region: str = "JP") -> SearchResult:
    """Residents by name, kana, resident number or phone (typed any common way); audited."""
    text = text.strip()
    e164 = phone.try_normalize(text, region) if _PHONE_LIKE.match(text) else None
    found = residents.search(session, text)
    if e164 is not None:
        known = {resident.id for resident in found}
        found += [r for r in residents.by_phone(session, e164) if r.id not in known]
    actor.audit(
        session,
        "search",
        "resident",
        detail={
            # A phone number is personal data: the audit log keeps only its masked form.
            "query": phone.mask(e164) if e164 else ("(phone)" if _PHONE_LIKE.match(text) else text),
            "results": [resident.id for resident in found],
        },
    )
    return SearchResult(residents=found, phone_e164=e164)


def open_record(
    session: Session, actor: Actor, resident_id: int, *, reveal_phones: bool = False
) -> ResidentRecord | None:
    """The resident's record, or None; writes a 'view' (or 'reveal_phone') audit row."""
    resident = session.get(Resident, resident_id)
    if resident is None:
        return None
    actor.audit(
        session,
        "reveal_phone" if reveal_phones else "view",
        "resident",
        resident.id,
        resident_id=resident.id,
    )
    return ResidentRecord(
        resident=resident,
        bookings=booking.bookings_of(session, resident.id),
        inquiries=list(
            session.scalars(
                select(Inquiry)
                .where(Inquiry.resident_id == resident.id)
                .order_by(Inquiry.created_at.desc())
            )
        ),
        calls=list(
            session.scalars(
                select(Call)
                .where(Call.resident_id == resident.id)
                .order_by(Call.started_at.desc())
                .limit(RECENT_CALLS)
            )
        ),
        phones_revealed=reveal_phones,
    )


def phones_visible(role: str, revealed: bool) -> bool:
    """Operators see masked numbers unless they asked (audited); supervisors and admins see them."""
    return revealed or role in ("supervisor", "admin")
