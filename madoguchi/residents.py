"""Finding residents: by register number and birth date, by phone number, by name."""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from madoguchi.models import Resident, ResidentPhone


def by_resident_no(session: Session, resident_no: str) -> Resident | None:
    """The resident with this register number, if any."""
    return session.scalar(select(Resident).where(Resident.resident_no == resident_no.strip()))


def identify(session: Session, resident_no: str, birth_date: date) -> Resident | None:
    """The resident only when both the register number and the birth date match."""
    resident = by_resident_no(session, resident_no)
    if resident is None or resident.birth_date != birth_date:
        return None
    return resident


def by_phone(session: Session, e164: str) -> list[Resident]:
    """Residents who registered this number (a shared home phone may give several)."""
    return list(
        session.scalars(
            select(Resident)
            .join(ResidentPhone, ResidentPhone.resident_id == Resident.id)
            .where(ResidentPhone.e164 == e164)
            .order_by(Resident.id)
        )
    )


def search(session: Session, text: str, limit: int = 50) -> list[Resident]:
    """Residents whose number, name, kana or phone contains the text."""
    text = text.strip()
    if not text:
        return []
    pattern = f"%{text}%"
    query = (
        select(Resident)
        .outerjoin(ResidentPhone, ResidentPhone.resident_id == Resident.id)
        .where(
            or_(
                Resident.resident_no == text,
                Resident.name.like(pattern),
                Resident.name_kana.like(pattern),
                ResidentPhone.e164.like(pattern),
            )
        )
        .distinct()
        .order_by(Resident.name_kana)
        .limit(limit)
    )
    return list(session.scalars(query))
