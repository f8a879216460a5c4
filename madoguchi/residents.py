"""Finding residents: by register number and birth date, by phone number, by name.

Every value looked up is sealed in the database, so each lookup compares blind-index digests:
the register number, the full phone number (E.164), its last four digits, the birth date, and
the name and kana terms of madoguchi.resident_terms. What a digest cannot do (a substring in the
middle of a name or number) the search no longer does; the README says so.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from sqlalchemy import CompoundSelect, Select, bindparam, exists, select, union
from sqlalchemy.orm import Session

from madoguchi import phone, resident_terms
from madoguchi.models import Call, Resident, ResidentPhone
from madoguchi.sealing import blind

SEARCH_LIMIT = 50
_DATE_FORMS = (
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
)
_PHONE_SEPARATORS = re.compile(r"[\s\-‐‑–—―ー()（）.]")


def by_resident_no(session: Session, resident_no: str) -> Resident | None:
    """The resident with this register number, if any."""
    return session.scalar(select(Resident).where(blind.matches(
        Resident.resident_no_digest, "resident_no", blind.resident_number(resident_no))))


def identify(session: Session, resident_no: str, birth_date: date) -> Resident | None:
    """The resident only when both the register number and the birth date match."""
    resident = by_resident_no(session, resident_no)
    if resident is None or resident.birth_date != birth_date:
        return None
    return resident


def _phone_owners(e164: str) -> Select:
    return select(ResidentPhone.resident_id).where(
        blind.matches(ResidentPhone.e164_digest, "phone", e164))


def by_phone(session: Session, e164: str) -> list[Resident]:
    """Residents who registered this number (a shared home phone may give several)."""
    return list(session.scalars(
        select(Resident).where(Resident.id.in_(_phone_owners(e164))).order_by(Resident.id)))


def phone_registered(session: Session, e164: str) -> bool:
    """True when some resident registered this number (no resident's record is read)."""
    return session.scalar(_phone_owners(e164).limit(1)) is not None


# One round trip for the "book" answer of the main menu: whom the call already identified,
# and whether the caller's number is registered (built once; the digests bind as a list).
_CALLER_ON_RECORD = select(
    select(Call.resident_id).where(Call.call_sid == bindparam("call_sid")).scalar_subquery(),
    exists().where(ResidentPhone.e164_digest.in_(bindparam("digests", expanding=True))),
)


def caller_on_record(session: Session, call_sid: str, e164: str | None) -> tuple[int | None, bool]:
    """The resident identified on this call, and whether some resident registered e164."""
    digests = blind.lookup_digests("phone", e164) if e164 else []
    row = session.execute(_CALLER_ON_RECORD, {"call_sid": call_sid, "digests": digests}).one()
    return row[0], bool(row[1])


def typed_date(text: str) -> date | None:
    """A birth date typed as 19540809, 1954-08-09, 1954/8/9 or 1954年8月9日, else None."""
    text = unicodedata.normalize("NFKC", text).strip()
    for form in _DATE_FORMS:
        found = form.match(text)
        if found:
            try:
                return date(*(int(part) for part in found.groups()))
            except ValueError:
                return None
    return None


@dataclass(frozen=True)
class SearchKinds:
    """What a typed text was searched as (the audit log keeps these, never the text)."""

    kinds: tuple[str, ...]
    phone_e164: str | None = None


def _matching(text: str, region: str) -> tuple[list[Select | CompoundSelect], SearchKinds]:
    queries: list[Select | CompoundSelect] = []
    kinds: list[str] = []
    compact = _PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
    e164 = phone.try_normalize(text, region) if re.fullmatch(r"\+?\d{6,16}", compact) else None
    if e164 is not None:
        queries.append(_phone_owners(e164))
        kinds.append("phone")
    if re.fullmatch(r"\d{4}", compact):
        queries.append(select(ResidentPhone.resident_id).where(
            blind.matches(ResidentPhone.last4_digest, "last4", compact)))
        kinds.append("last_four")
    born = typed_date(text)
    if born is not None:
        queries.append(select(Resident.id).where(
            blind.matches(Resident.birth_digest, "birth_date", born.isoformat())))
        kinds.append("birth_date")
    number = blind.resident_number(text)
    if number and re.fullmatch(r"[0-9A-Z\-]{1,20}", number):
        queries.append(select(Resident.id).where(
            blind.matches(Resident.resident_no_digest, "resident_no", number)))
        kinds.append("resident_no")
    if not re.fullmatch(r"[\d\s\-/.+()年月日]*", unicodedata.normalize("NFKC", text)):
        by_name = resident_terms.matching_residents(text)
        if by_name is not None:
            queries.append(by_name)
            kinds.append("name")
    return queries, SearchKinds(tuple(kinds), e164)


def search(session: Session, text: str, *, region: str = "JP", limit: int = SEARCH_LIMIT
           ) -> tuple[list[Resident], SearchKinds]:
    """Residents found by register number, phone, last four digits, birth date or name.

    The first `limit` matches in register order, shown sorted by kana (sorting happens after
    opening: the database cannot order sealed names).
    """
    text = text.strip()
    if not text:
        return [], SearchKinds(())
    queries, kinds = _matching(text, region)
    if not queries:
        return [], kinds
    # The first ids straight from the indexes, then those residents: a planner left to join
    # residents to the terms would walk the whole register for a rare name.
    matched = (union(*queries) if len(queries) > 1 else queries[0]).subquery()
    (resident_id,) = matched.columns
    first = list(session.scalars(select(resident_id).distinct().order_by(resident_id)
                                 .limit(limit)))
    found = list(session.scalars(select(Resident).where(Resident.id.in_(first)))) if first else []
    found.sort(key=lambda resident: (resident.name_kana, resident.id))
    return found, kinds
