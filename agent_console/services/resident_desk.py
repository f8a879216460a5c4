"""Finding a resident and opening their record; every search and every view is audited."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from agent_console.services.actor import Actor
from madoguchi import booking, phone, resident_terms, residents
from madoguchi.models import Booking, Call, Inquiry, Resident
from madoguchi.sealing import blind

RECENT_CALLS = 20


@dataclass(frozen=True)
class SearchResult:
    """Residents found for a typed text, and whether it was read as a phone number."""

    residents: list[Resident]
    phone_e164: str | None
    # The text had more words than a name has (resident_terms.MAX_NAME_WORDS): not searched.
    too_many_words: bool = False


@dataclass(frozen=True)
class ResidentRecord:
    """A resident with their bookings, inquiries and recent calls."""

    resident: Resident
    bookings: list[Booking]
    inquiries: list[Inquiry]
    calls: list[Call]
    phones_revealed: bool


def search(session: Session, actor: Actor, text: str, *, region: str = "JP") -> SearchResult:
    """Residents by name, kana, resident number, phone, its last four or birth date; audited.

    The audit row says what kind of text was searched and how long it was, never the text:
    a name or number typed into the box is personal data too.
    """
    try:
        found, kinds = residents.search(session, text, region=region)
    except resident_terms.TooManyWords:
        return SearchResult(residents=[], phone_e164=None, too_many_words=True)
    actor.audit(
        session,
        "search",
        "resident",
        detail={
            "query": _described(text.strip(), kinds),
            "results": [resident.id for resident in found],
        },
    )
    return SearchResult(residents=found, phone_e164=kinds.phone_e164)


def _described(text: str, kinds: residents.SearchKinds) -> str:
    """What the audit log keeps of a search: its kinds and length, a phone number masked."""
    if kinds.phone_e164:
        return f"phone {phone.mask(kinds.phone_e164)}"
    shown = " or ".join(kind.replace("_", " ") for kind in kinds.kinds) or "text"
    return f"{shown} ({len(text)} characters)"


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
        calls=calls_of(session, resident),
        phones_revealed=reveal_phones,
    )


def note_shown(session: Session, actor: Actor, resident: Resident, *, page: str) -> None:
    """Audit a page other than the record that shows who a resident is (name, number)."""
    actor.audit(session, "view", "resident", resident.id, resident_id=resident.id,
                detail={"page": page})


def calls_of(session: Session, resident: Resident) -> list[Call]:
    """The resident's recent calls, newest first: those linked to them and those from their phones.

    A call is linked to a resident only when the caller proved who they are on the phone line;
    most callers never need to, so their calls are found by the (sealed) number they came from.
    A call from a shared number that proved to be someone else stays that person's.
    """
    from_their_phones = [blind.matches(Call.from_digest, "phone", item.e164)
                         for item in resident.phones]
    mine = Call.resident_id == resident.id
    if from_their_phones:
        mine = or_(mine, and_(Call.resident_id.is_(None), or_(*from_their_phones)))
    return list(session.scalars(
        select(Call).where(mine).order_by(Call.started_at.desc()).limit(RECENT_CALLS)))


def phones_visible(role: str, revealed: bool) -> bool:
    """Operators see masked numbers unless they asked (audited); supervisors and admins see them."""
    return revealed or role in ("supervisor", "admin")
