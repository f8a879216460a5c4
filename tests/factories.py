"""Small builders for test data: a campaign, a site, slots, residents."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import count

from sqlalchemy.orm import Session

from madoguchi.models import Campaign, Operator, Resident, ResidentPhone, Site, Slot

_serial = count(1)


def campaign(session: Session, **fields) -> Campaign:
    """An active campaign."""
    n = next(_serial)
    item = Campaign(code=f"C{n}", name=f"接種 第{n}回", name_en=f"Round {n}", active=True)
    for key, value in fields.items():
        setattr(item, key, value)
    session.add(item)
    session.flush()
    return item


def site(session: Session, **fields) -> Site:
    """A site."""
    n = next(_serial)
    item = Site(code=f"S{n}", name=f"市民会館{n}", name_en=f"Civic Hall {n}", address="")
    for key, value in fields.items():
        setattr(item, key, value)
    session.add(item)
    session.flush()
    return item


def slot(
    session: Session,
    *,
    campaign_id: int,
    site_id: int,
    starts_at: datetime | None = None,
    capacity: int = 10,
    **fields,
) -> Slot:
    """A slot starting tomorrow at 09:00 UTC unless told otherwise."""
    if starts_at is None:
        tomorrow = datetime.now(UTC).date() + timedelta(days=1 + next(_serial) % 300)
        starts_at = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 0, 30, tzinfo=UTC)
    item = Slot(
        campaign_id=campaign_id, site_id=site_id, starts_at=starts_at, length_minutes=30,
        capacity=capacity, **fields,
    )
    session.add(item)
    session.flush()
    return item


def resident(session: Session, *, phone: str | None = None, **fields) -> Resident:
    """A resident born in 1948, with an optional E.164 phone."""
    n = next(_serial)
    item = Resident(
        resident_no=fields.pop("resident_no", f"{100000 + n}"),
        name=fields.pop("name", f"山田 太郎{n}"),
        name_kana=fields.pop("name_kana", f"ヤマダ タロウ{n}"),
        birth_date=fields.pop("birth_date", date(1948, 5, 17)),
        language=fields.pop("language", "ja"),
    )
    if phone:
        mobile = phone.startswith(("+8190", "+8180", "+8170"))
        item.phones.append(ResidentPhone(e164=phone, is_mobile=mobile))
    session.add(item)
    session.flush()
    return item


def residents(session: Session, n: int) -> list[Resident]:
    """n residents."""
    return [resident(session) for _ in range(n)]


def operator(session: Session, *, role: str = "operator", **fields) -> Operator:
    """A console user with a throwaway password hash."""
    n = next(_serial)
    item = Operator(
        username=fields.pop("username", f"op{n}"),
        display_name=fields.pop("display_name", f"オペレーター{n}"),
        password_hash=fields.pop("password_hash", "not-a-real-hash"),
        role=role,
        **fields,
    )
    session.add(item)
    session.flush()
    return item
