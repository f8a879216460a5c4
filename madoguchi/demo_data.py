"""The demo city: a campaign, two sites, two weeks of slots, residents, staff, cases and a FAQ.

Everything is drawn from one seeded random generator, so the same seed and day give the same
city (only the random booking and inquiry reference codes differ). Bookings go through
madoguchi.booking so the slot counters are exact; the rest is inserted in bulk so the whole
city loads in a few seconds.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from madoguchi import booking, inquiries, phone, resident_terms
from madoguchi.demo_names import (
    FEMALE_GIVEN_NAMES,
    FOREIGN_GIVEN_NAMES,
    FOREIGN_SURNAMES,
    MALE_GIVEN_NAMES,
    SURNAMES,
)
from madoguchi.models import (
    Campaign,
    FaqEntry,
    FaqText,
    InquiryEvent,
    Operator,
    Resident,
    ResidentPhone,
    Site,
    Slot,
    utcnow,
)
from madoguchi.sealing.orm import with_digests
from madoguchi.settings import Settings

# Console users of the demo city: (username, password, role). Demo only: change before real use.
DEMO_USERS: list[tuple[str, str, str]] = [
    ("operator1", "madoguchi-op1", "operator"),
    ("operator2", "madoguchi-op2", "operator"),
    ("operator3", "madoguchi-op3", "operator"),
    ("supervisor", "madoguchi-sv", "supervisor"),
    ("admin", "madoguchi-admin", "admin"),
]
_STAFF = {
    "operator1": ("佐藤 美咲", "ja"),
    "operator2": ("鈴木 健太", "ja"),
    "operator3": ("Emily Clark", "en"),
    "supervisor": ("高橋 恵", "ja"),
    "admin": ("システム 管理者", "ja"),
}

DEMO_DAYS = 14
OPENS, CLOSES = time(9, 0), time(17, 0)
BOOKED_DAYS = 3  # the first days with bookings, as on a real booking day
BOOKED_SHARE = 0.3
CANCELLED_SHARE = 0.15
PHONE_SHARE = 0.7
MOBILE_SHARE = 0.55
ENGLISH_SHARE = 0.05

_MOBILE_PREFIXES = ("090", "080", "070")
# (area code, digits after it) for landlines around the demo city.
_LANDLINE_AREAS = (("03", 8), ("042", 7), ("044", 7), ("045", 7), ("048", 7), ("0422", 6))

CAMPAIGN = {
    "code": "covid-autumn",
    "name": "新型コロナワクチン 秋接種",
    "name_en": "COVID-19 autumn vaccination",
}


def _sites(city: str, city_en: str) -> list[dict[str, str]]:
    return [
        {
            "code": "civic-hall",
            "name": "市民会館",
            "name_en": "Civic Hall",
            "address": f"{city}本町一丁目2番3号 / 1-2-3 Honcho, {city_en}",
        },
        {
            "code": "central-community-center",
            "name": "中央公民館",
            "name_en": "Central Community Center",
            "address": f"{city}中央四丁目5番1号 / 4-5-1 Chuo, {city_en}",
        },
    ]


# Keys as the voice should say them, so no digit is left for the speech engine to guess.
_KEY_WORDS_JA = {
    "0": "ゼロ", "1": "いち", "2": "に", "3": "さん", "4": "よん", "5": "ご", "6": "ろく",
    "7": "なな", "8": "はち", "9": "きゅう", "*": "こめじるし", "#": "シャープ",
}
_KEY_WORDS_EN = {
    "0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
    "7": "seven", "8": "eight", "9": "nine", "*": "star", "#": "hash",
}


def _faq(operator_key: str) -> list[dict[str, tuple[str, str]]]:
    """FAQ texts as (title, answer) per language; answers are read aloud to older callers."""
    key = _KEY_WORDS_JA.get(operator_key, operator_key)
    key_en = _KEY_WORDS_EN.get(operator_key, operator_key)
    return [
        {
            "ja": (
                "会場と行き方",
                "会場は、二か所です。市民会館と、中央公民館です。"
                "市民会館は、市役所のとなりです。中央公民館は、中央駅から歩いて五分です。"
                "どちらも、駐車場があります。車いすのかたも、ご利用いただけます。",
            ),
            "en": (
                "Venues and how to get there",
                "There are two venues: the Civic Hall and the Central Community Center. "
                "The Civic Hall is next to City Hall. The Central Community Center is a "
                "five minute walk from Chuo Station. Both have parking and wheelchair access.",
            ),
        },
        {
            "ja": (
                "持ち物",
                "当日は、三つのものを、お持ちください。"
                "市から届いた、接種券。保険証など、ご本人と分かるもの。"
                "お薬手帳をお持ちのかたは、お薬手帳です。"
                "肩を出しやすい服で、お越しください。",
            ),
            "en": (
                "What to bring",
                "Please bring three things. First, the vaccination ticket the city sent you. "
                "Second, something that shows who you are, such as your health insurance card. "
                "Third, your medicine notebook, if you have one. "
                "Please wear clothes that make it easy to show your upper arm.",
            ),
        },
        {
            "ja": (
                "予約の変更・取り消し",
                "予約の確認と取り消しは、この電話の自動案内でできます。"
                "予約番号を、お手元にご用意ください。"
                f"日にちや時間を変えたいときは、{key}を押して、係の者にお伝えください。",
            ),
            "en": (
                "Changing or cancelling a booking",
                "You can check or cancel your booking on this line. "
                "Please have your booking number ready. "
                f"To change the day or time, press {key_en} and tell a member of staff.",
            ),
        },
        {
            "ja": (
                "費用",
                "六十五歳以上のかたの費用は、二千円です。"
                "生活保護を受けているかたは、無料です。"
                "お支払いは、当日、会場でお願いします。",
            ),
            "en": (
                "Cost",
                "For people aged sixty five and over, the vaccination costs two thousand yen. "
                "It is free for people receiving public assistance. "
                "Please pay at the venue on the day.",
            ),
        },
        {
            "ja": (
                "副反応が出たとき",
                "接種のあと、熱が出たり、腕がはれたりすることがあります。"
                "多くは、二、三日で、おさまります。"
                "息が苦しいときや、強い痛みが続くときは、すぐに、かかりつけのお医者さんに、"
                "ご相談ください。夜や休日に急ぐときは、シャープ、七、一、一、九に、お電話ください。",
            ),
            "en": (
                "If you feel unwell after the vaccination",
                "After the vaccination you may get a fever or a swollen arm. "
                "This usually passes in two or three days. "
                "If you have trouble breathing or strong pain that does not stop, "
                "please call your doctor at once. At night or on holidays, call "
                "hash seven one one nine.",
            ),
        },
        {
            "ja": (
                "接種を受けられるかた",
                "この秋の接種は、市内に住む、六十五歳以上のかたが対象です。"
                "六十歳から六十四歳で、持病のあるかたも、受けられます。"
                "接種券が届いていないときは、係の者にお伝えください。",
            ),
            "en": (
                "Who can be vaccinated",
                "This autumn's vaccination is for residents of the city aged sixty five and "
                "over, and for people aged sixty to sixty four with a chronic illness. "
                "If you have not received a vaccination ticket, please tell a member of staff.",
            ),
        },
    ]


# Inquiry subjects per category (keys of config.toml's list), as an operator would note them.
_INQUIRIES: dict[str, tuple[str, ...]] = {
    "vaccination": (
        "接種券が届かない",
        "接種会場までの送迎はあるか",
        "予約した日に行けなくなった",
        "家族の分もまとめて予約したい",
        "二回目の接種の時期を知りたい",
    ),
    "waste": (
        "粗大ごみの出し方を知りたい",
        "集積所のごみが回収されていない",
        "分別の表をもう一度送ってほしい",
        "カラスがごみを荒らしている",
    ),
    "roads": (
        "家の前の道路に穴があいている",
        "街灯が切れている",
        "歩道の木の枝が伸びて通りにくい",
        "カーブミラーが曲がっている",
    ),
    "tax": (
        "固定資産税の納付書をなくした",
        "住民税の金額について聞きたい",
        "口座振替の手続きをしたい",
    ),
    "welfare": (
        "介護保険の申請の仕方を知りたい",
        "配食サービスを使いたい",
        "一人暮らしの見守りをお願いしたい",
        "補聴器の助成について聞きたい",
    ),
}
_NOTES = (
    "担当課に確認中。",
    "折り返しの電話を約束した。",
    "現地を確認する予定。",
    "書類を郵送した。",
)
_PUBLIC_UPDATES = {
    "in_progress": (
        "担当の課で、確認しています。",
        "担当者が、現地を確認する予定です。",
    ),
    "done": (
        "対応が終わりました。お問い合わせ、ありがとうございました。",
        "書類をお送りしました。数日でお手元に届きます。",
        "修理が終わりました。",
    ),
}
_CANCEL_REASONS = ("体調不良のため", "都合がつかなくなったため", "家族の予定と合わせるため")


class DemoDataError(RuntimeError):
    """The demo city cannot be loaded here; the message says why."""


@dataclass
class DemoSummary:
    """What the demo city contains once loaded."""

    campaign: str
    sites: list[str]
    first_day: date
    last_day: date
    slots: int = 0
    places: int = 0
    residents: int = 0
    with_phone: int = 0
    english: int = 0
    users: list[tuple[str, str, str]] = field(default_factory=list)
    booked: int = 0
    cancelled: int = 0
    inquiries: dict[str, int] = field(default_factory=dict)
    faq_entries: int = 0

    def __str__(self) -> str:
        cases = "、".join(f"{status} {n}" for status, n in sorted(self.inquiries.items()))
        logins = ", ".join(f"{user} / {password} ({role})" for user, password, role in self.users)
        return "\n".join(
            [
                f"デモの市を用意しました (demo city loaded): {self.campaign}",
                f"  会場 sites: {'、'.join(self.sites)}",
                f"  枠 slots: {self.slots} ({self.places}人分 places), "
                f"{self.first_day:%Y-%m-%d} – {self.last_day:%Y-%m-%d}",
                f"  住民 residents: {self.residents} (電話あり with phone {self.with_phone}, "
                f"英語 English {self.english})",
                f"  予約 bookings: {self.booked} (取り消し cancelled {self.cancelled})",
                f"  問い合わせ inquiries: {sum(self.inquiries.values())} ({cases})",
                f"  よくある質問 FAQ entries: {self.faq_entries}",
                f"  ログイン console users: {logins}",
            ]
        )


def database_is_empty(session: Session) -> bool:
    """True when there are no residents, slots or operators yet (a fresh installation)."""
    return all(
        session.scalar(select(model.id).limit(1)) is None for model in (Resident, Slot, Operator)
    )


def _phone_number(rng: random.Random, mobile: bool) -> str:
    """A valid Japanese number in E.164, mobile (090/080/070) or a landline."""
    while True:
        if mobile:
            national = rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        else:
            area, digits = rng.choice(_LANDLINE_AREAS)
            national = area + f"{rng.randrange(10**digits):0{digits}d}"
        e164 = phone.try_normalize(national)
        if e164 is not None:
            return e164


def _birth_date(rng: random.Random) -> date:
    # Mostly the older residents a vaccination line serves; a few younger family members.
    start, end = (date(1930, 1, 1), date(1960, 12, 31)) if rng.random() < 0.9 else (
        date(1961, 1, 1), date(1995, 12, 31)
    )
    return start + timedelta(days=rng.randrange((end - start).days + 1))


def _resident_rows(
    rng: random.Random, count: int, languages: list[str]
) -> tuple[list[dict], dict[str, list[str]]]:
    """Resident rows and each resident_no's phone numbers."""
    numbers = sorted(rng.sample(range(10_000_000, 100_000_000), count))
    english_ok = "en" in languages
    rows: list[dict] = []
    phones: dict[str, list[str]] = {}
    last_home: tuple[str, tuple[str, str]] | None = None
    for number in numbers:
        resident_no = str(number)
        language = "en" if english_ok and rng.random() < ENGLISH_SHARE else "ja"
        surname = rng.choice(SURNAMES)
        given = rng.choice(FEMALE_GIVEN_NAMES if rng.random() < 0.55 else MALE_GIVEN_NAMES)
        numbers_of: list[str] = []
        if language == "en" and rng.random() < 0.6:
            surname, given = rng.choice(FOREIGN_SURNAMES), rng.choice(FOREIGN_GIVEN_NAMES)
            name = f"{surname[0]} {given[0]}"
        elif last_home is not None and rng.random() < 0.08:
            # A spouse sharing the home phone: one number, several residents.
            home, surname = last_home
            numbers_of.append(home)
            name = f"{surname[0]} {given[0]}"
        else:
            name = f"{surname[0]} {given[0]}"
        if not numbers_of and rng.random() < PHONE_SHARE:
            mobile = rng.random() < MOBILE_SHARE
            numbers_of.append(_phone_number(rng, mobile))
            if not mobile:
                last_home = (numbers_of[0], surname)
        rows.append(
            {
                "resident_no": resident_no,
                "name": name,
                "name_kana": f"{surname[1]} {given[1]}",
                "birth_date": _birth_date(rng),
                "language": language,
            }
        )
        phones[resident_no] = numbers_of
    return rows, phones


def _slot_starts(settings: Settings, today: date, now: datetime) -> list[datetime]:
    """Slot start times from today for two weeks, 09:00–17:00 local time, future ones only."""
    length = timedelta(minutes=settings.booking.slot_minutes)
    starts = []
    for offset in range(DEMO_DAYS):
        day = today + timedelta(days=offset)
        start = datetime.combine(day, OPENS, tzinfo=settings.tz)
        closing = datetime.combine(day, CLOSES, tzinfo=settings.tz)
        while start + length <= closing:
            if start > now:
                starts.append(start)
            start += length
    return starts


def _insert_city(
    session: Session, settings: Settings, rng: random.Random, residents: int, today: date,
    now: datetime,
) -> tuple[Campaign, list[Site], dict[str, int]]:
    """Campaign, sites, slots, residents, phones, staff and FAQ in bulk; returns ids."""
    campaign = Campaign(**CAMPAIGN, min_age=None, active=True, created_at=now)
    sites = [Site(**fields) for fields in _sites(settings.city.name, settings.city.name_en)]
    session.add_all([campaign, *sites])
    session.flush()
    starts = _slot_starts(settings, today, now)
    slot_rows = [
        {"campaign_id": campaign.id, "site_id": site.id, "starts_at": start,
         "length_minutes": settings.booking.slot_minutes,
         "capacity": settings.booking.slot_capacity}
        for start in starts
        for site in sites
    ]
    if slot_rows:
        session.execute(insert(Slot), slot_rows)

    rows, phones = _resident_rows(rng, residents, list(settings.languages.offered))
    for row in rows:
        row["created_at"] = row["updated_at"] = now
    if rows:
        session.execute(insert(Resident), with_digests(Resident, rows))
    known = session.execute(select(Resident.id, Resident.resident_no, Resident.name,
                                   Resident.name_kana)).all()
    resident_terms.replace_terms(session.connection(),
                                 [(id_, name, kana) for id_, _, name, kana in known])
    ids = {number: id_ for id_, number, _, _ in known}
    phone_rows = [
        {"resident_id": ids[resident_no], "e164": e164, "is_mobile": phone.is_mobile(e164)}
        for resident_no, numbers in phones.items()
        for e164 in numbers
    ]
    if phone_rows:
        session.execute(insert(ResidentPhone), with_digests(ResidentPhone, phone_rows))

    session.add_all(
        Operator(
            username=username,
            display_name=_STAFF.get(username, (username, "ja"))[0],
            password_hash=generate_password_hash(password),
            role=role,
            language=_STAFF.get(username, (username, "ja"))[1],
            created_at=now,
        )
        for username, password, role in DEMO_USERS
    )
    for position, texts in enumerate(_faq(settings.menu.operator_key), start=1):
        entry = FaqEntry(position=position, active=True, updated_at=now)
        entry.texts = [
            FaqText(language=language, title=title, answer=answer)
            for language, (title, answer) in texts.items()
        ]
        session.add(entry)
    session.commit()
    return campaign, sites, ids


def _book_first_days(
    session: Session, rng: random.Random, campaign: Campaign, resident_ids: list[int],
    operator_ids: list[int], now: datetime, settings: Settings,
) -> tuple[int, int]:
    """About 30% of the first days' places booked through booking.book; some cancelled."""
    query = (
        select(Slot).where(Slot.campaign_id == campaign.id).order_by(Slot.starts_at, Slot.site_id)
    )
    slots = list(session.scalars(query))
    days = sorted({slot.starts_at.astimezone(settings.tz).date() for slot in slots})[:BOOKED_DAYS]
    candidates = list(resident_ids)
    rng.shuffle(candidates)
    made: list[str] = []
    for slot in slots:
        if slot.starts_at.astimezone(settings.tz).date() not in days:
            continue
        wanted = min(slot.capacity, round(slot.capacity * BOOKED_SHARE * rng.uniform(0.4, 1.6)))
        for _ in range(wanted):
            if not candidates:
                break
            channel = rng.choices(("ivr", "operator", "api"), weights=(4, 3, 3))[0]
            made.append(
                booking.book(
                    session,
                    slot_id=slot.id,
                    resident_id=candidates.pop(),
                    channel=channel,
                    operator_id=rng.choice(operator_ids) if channel == "operator" else None,
                    now=now,
                ).reference
            )
    cancelled = [reference for reference in made if rng.random() < CANCELLED_SHARE]
    for reference in cancelled:
        booking.cancel(session, reference, reason=rng.choice(_CANCEL_REASONS), now=now)
    return len(made) - len(cancelled), len(cancelled)


def _open_cases(
    session: Session, rng: random.Random, count: int, resident_ids: list[int],
    operator_ids: list[int], now: datetime,
) -> Counter:
    """Inquiries in several categories and statuses, with timelines and public updates."""
    statuses: Counter = Counter()
    categories = list(_INQUIRIES)
    for index in range(count):
        category = categories[index % len(categories)]
        created = now - timedelta(days=rng.uniform(0.1, 13.5))
        resident_id = rng.choice(resident_ids) if resident_ids and rng.random() < 0.8 else None
        contact = None
        if resident_id is not None:
            contact = session.scalar(
                select(ResidentPhone.e164).where(ResidentPhone.resident_id == resident_id).limit(1)
            )
        channel = rng.choice(("operator", "operator", "ivr"))
        case = inquiries.create(
            session,
            category=category,
            subject=rng.choice(_INQUIRIES[category]),
            channel=channel,
            resident_id=resident_id,
            contact_e164=contact,
            note="電話の自動案内で受付。" if channel == "ivr" else "電話で受付。",
            now=created,
        )
        status = rng.choices(("received", "in_progress", "done"), weights=(3, 4, 3))[0]
        if status != "received":
            operator_id = rng.choice(operator_ids)
            case.assigned_to_id = operator_id
            case.due_at = created + timedelta(days=7)
            started = created + timedelta(hours=rng.uniform(1, 20))
            case.events.append(
                InquiryEvent(kind="note", text=rng.choice(_NOTES), operator_id=operator_id,
                             at=started)
            )
            public = rng.choice(_PUBLIC_UPDATES["in_progress"]) if rng.random() < 0.5 else ""
            inquiries.set_status(
                session, case, "in_progress", operator_id=operator_id, public_text=public,
                now=started,
            )
            if status == "done":
                finished = min(started + timedelta(days=rng.uniform(0.5, 4)), now)
                inquiries.set_status(
                    session, case, "done", operator_id=operator_id,
                    public_text=rng.choice(_PUBLIC_UPDATES["done"]), now=finished,
                )
        statuses[status] += 1
    return statuses


def load_demo_data(
    session: Session,
    settings: Settings,
    *,
    residents: int = 2000,
    today: date | None = None,
    seed: int = 7,
) -> DemoSummary:
    """Fill an empty database with a believable city; raises DemoDataError if it has data."""
    if not database_is_empty(session):
        raise DemoDataError(
            "データベースにすでに住民・枠・職員が入っています。デモは空のデータベースにだけ"
            "入れられます (the database already has residents, slots or staff; the demo city "
            "loads only into an empty database)"
        )
    rng = random.Random(seed)
    now = utcnow()
    today = today or now.astimezone(settings.tz).date()
    campaign, sites, ids = _insert_city(session, settings, rng, residents, today, now)
    operator_ids = list(
        session.scalars(
            select(Operator.id).where(Operator.role == "operator").order_by(Operator.id)
        )
    )
    resident_ids = [ids[number] for number in sorted(ids)]
    booked, cancelled = _book_first_days(
        session, rng, campaign, resident_ids, operator_ids, now, settings
    )
    statuses = _open_cases(session, rng, 40, resident_ids, operator_ids, now)
    slot_count, places = session.execute(
        select(func.count(Slot.id), func.coalesce(func.sum(Slot.capacity), 0))
    ).one()
    return DemoSummary(
        campaign=f"{campaign.name} / {campaign.name_en}",
        sites=[f"{site.name} / {site.name_en}" for site in sites],
        first_day=today,
        last_day=today + timedelta(days=DEMO_DAYS - 1),
        slots=slot_count,
        places=int(places),
        residents=len(ids),
        with_phone=session.scalar(select(func.count(func.distinct(ResidentPhone.resident_id)))),
        english=session.scalar(select(func.count()).where(Resident.language == "en")),
        users=list(DEMO_USERS),
        booked=booked,
        cancelled=cancelled,
        inquiries=dict(statuses),
        faq_entries=session.scalar(select(func.count(FaqEntry.id))),
    )
