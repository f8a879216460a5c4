"""How the line reaches an operator: in the browser softphone, or on a phone number they give."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from madoguchi import phone
from madoguchi.models import Operator

REACH_CHOICES = ("browser", "phone")


class ReachError(ValueError):
    """The choice was not saved; `key` names the console message saying what to fix."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True)
class Reach:
    """An operator's saved choice, with the number as written at home (or "")."""

    reach_by: str
    phone_e164: str | None
    phone_national: str


def current(operator: Operator) -> Reach:
    """The operator's saved choice."""
    return Reach(operator.reach_by, operator.phone_e164,
                 phone.national(operator.phone_e164) if operator.phone_e164 else "")


def save(session: Session, operator_id: int, reach_by: str, raw_phone: str | None, *,
         region: str = "JP") -> Reach:
    """Store the choice; a phone choice needs a valid number. Nothing is saved on error."""
    if reach_by not in REACH_CHOICES:
        raise ReachError("form_invalid")
    operator = session.get(Operator, operator_id)
    if operator is None:
        raise ReachError("not_found")
    raw = (raw_phone or "").strip()
    e164 = None
    if raw:
        try:
            e164 = phone.normalize(raw, region)
        except phone.InvalidPhoneNumber:
            raise ReachError("reach_phone_invalid", given=raw) from None
    elif reach_by == "phone":
        raise ReachError("reach_phone_required")
    operator.reach_by = reach_by
    operator.phone_e164 = e164
    session.commit()
    return current(operator)
