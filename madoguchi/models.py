"""The shared database: residents, appointments, inquiries, calls, callbacks, staff, audit."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from madoguchi.sealing.blind import blind_index, iso_date, last_four, resident_number
from madoguchi.sealing.columns import Sealed, SealedDate, SealedJSON

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Statuses that take a place in a slot and block a second booking in the same campaign.
ACTIVE_BOOKING_STATUSES = ("held", "confirmed")
BOOKING_STATUSES = ("held", "confirmed", "cancelled", "expired", "no_show", "attended")
CHANNELS = ("ivr", "operator", "api")
INQUIRY_STATUSES = ("received", "in_progress", "done")
ROLES = ("operator", "supervisor", "admin")
CALLBACK_STATUSES = ("waiting", "dialing", "connected", "reached", "unreached", "cancelled")
ACTIVE_CALLBACK_STATUSES = ("waiting", "dialing", "connected")


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores UTC; always returns aware datetimes, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        """Reject naive datetimes and store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        """Attach UTC to what SQLite gives back without a zone."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# The kind of timeline entry that holds a voicemail's recording address.
RECORDING_EVENT = "recording"


def _recording_address(kind: str | None, text: str | None) -> str | None:
    """What a timeline entry's recording digest is made of: the address, for recordings only."""
    return text if kind == RECORDING_EVENT and text else None


class Base(DeclarativeBase):
    """Declarative base with stable constraint names for migrations."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Resident(Base):
    """A resident of the city, as in the city's resident register export.

    Number, name, kana and birth date are sealed; the register number and the birth date are
    found through their blind indexes, the name and kana through resident_search_terms.
    """

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_no: Mapped[str] = mapped_column(Sealed("residents.resident_no"))
    name: Mapped[str] = mapped_column(Sealed("residents.name"))
    name_kana: Mapped[str] = mapped_column(Sealed("residents.name_kana"))
    birth_date: Mapped[date] = mapped_column(SealedDate("residents.birth_date"))
    resident_no_digest: Mapped[str | None] = blind_index(
        "resident_no", "resident_no", derive=resident_number, unique=True)
    birth_digest: Mapped[str | None] = blind_index(
        "birth_date", "birth_date", derive=iso_date, index=True)
    language: Mapped[str] = mapped_column(String(10), default="ja")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    phones: Mapped[list[ResidentPhone]] = relationship(
        back_populates="resident", cascade="all, delete-orphan", order_by="ResidentPhone.id"
    )


class ResidentSearchTerm(Base):
    """One digest a resident's name or kana is found by (whole name, a part, a part's start)."""

    __tablename__ = "resident_search_terms"
    __table_args__ = (Index("ix_resident_search_terms_term", "term", "resident_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    term: Mapped[str] = mapped_column(String(40))


class ResidentPhone(Base):
    """A phone number of a resident, in E.164 (sealed; found by its digest and last four)."""

    __tablename__ = "resident_phones"
    __table_args__ = (UniqueConstraint("resident_id", "e164_digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"))
    e164: Mapped[str] = mapped_column(Sealed("resident_phones.e164"))
    e164_digest: Mapped[str | None] = blind_index("phone", "e164", index=True)
    last4_digest: Mapped[str | None] = blind_index("last4", "e164", derive=last_four, index=True)
    is_mobile: Mapped[bool] = mapped_column(Boolean, default=False)

    resident: Mapped[Resident] = relationship(back_populates="phones")


class Campaign(Base):
    """A booking round, such as one vaccination round."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    min_age: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Site(Base):
    """A place where appointments happen."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")


class Slot(Base):
    """A time slot with a fixed number of places.

    booked_count is a counter kept in the same transaction as the booking rows and guarded by a
    CHECK; the published numbers are always recomputed from the rows (see booking.slot_counts).
    Optional per-channel quotas reserve part of the places for the phone line or the operators.
    overridden_count counts the bookings a supervisor accepted beyond those places, so that
    every booking row is accounted for and the published numbers show the exceptions.
    """

    __tablename__ = "slots"
    __table_args__ = (
        CheckConstraint("booked_count >= 0 AND booked_count <= capacity", name="within_capacity"),
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        CheckConstraint(
            "(quota_ivr IS NULL OR booked_ivr <= quota_ivr) AND "
            "(quota_operator IS NULL OR booked_operator <= quota_operator) AND "
            "(quota_api IS NULL OR booked_api <= quota_api)",
            name="within_quota",
        ),
        UniqueConstraint("campaign_id", "site_id", "starts_at"),
        Index("ix_slots_campaign_start", "campaign_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    starts_at: Mapped[datetime]
    length_minutes: Mapped[int] = mapped_column(Integer, default=30)
    capacity: Mapped[int] = mapped_column(Integer)
    booked_count: Mapped[int] = mapped_column(Integer, default=0)
    quota_ivr: Mapped[int | None] = mapped_column(Integer)
    quota_operator: Mapped[int | None] = mapped_column(Integer)
    quota_api: Mapped[int | None] = mapped_column(Integer)
    booked_ivr: Mapped[int] = mapped_column(Integer, default=0)
    booked_operator: Mapped[int] = mapped_column(Integer, default=0)
    booked_api: Mapped[int] = mapped_column(Integer, default=0)
    overridden_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    campaign: Mapped[Campaign] = relationship()
    site: Mapped[Site] = relationship()

    @property
    def remaining(self) -> int:
        """Places still free according to the counter."""
        return self.capacity - self.booked_count


class Booking(Base):
    """One resident's appointment in one slot, through one channel."""

    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint(_in("status", BOOKING_STATUSES), name="status_known"),
        CheckConstraint(_in("channel", CHANNELS), name="channel_known"),
        # At most one active booking per resident and campaign, enforced by the database.
        Index(
            "uq_bookings_one_active_per_campaign",
            "resident_id",
            "campaign_id",
            unique=True,
            sqlite_where=text(_in("status", ACTIVE_BOOKING_STATUSES)),
            postgresql_where=text(_in("status", ACTIVE_BOOKING_STATUSES)),
        ),
        Index("ix_bookings_slot_status", "slot_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    status: Mapped[str] = mapped_column(String(12))
    channel: Mapped[str] = mapped_column(String(10))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    call_sid: Mapped[str | None] = mapped_column(String(64))
    held_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    # Typed by staff, so they may name someone: sealed.
    cancel_reason: Mapped[str | None] = mapped_column(Sealed("bookings.cancel_reason"))
    overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    override_reason: Mapped[str | None] = mapped_column(Sealed("bookings.override_reason"))

    slot: Mapped[Slot] = relationship()
    resident: Mapped[Resident] = relationship()


class Inquiry(Base):
    """A case: a question or report from a resident, followed until it is done."""

    __tablename__ = "inquiries"
    __table_args__ = (
        CheckConstraint(_in("status", INQUIRY_STATUSES), name="status_known"),
        Index("ix_inquiries_status_created", "status", "created_at"),
        # Reports and exports read a range of days whatever the status.
        Index("ix_inquiries_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), index=True)
    category: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(Sealed("inquiries.subject"))
    status: Mapped[str] = mapped_column(String(12), default="received")
    channel: Mapped[str] = mapped_column(String(20))
    contact_e164: Mapped[str | None] = mapped_column(Sealed("inquiries.contact_e164"))
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    call_sid: Mapped[str | None] = mapped_column(String(64))
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None]
    anonymised_at: Mapped[datetime | None]

    resident: Mapped[Resident | None] = relationship()
    events: Mapped[list[InquiryEvent]] = relationship(
        back_populates="inquiry", order_by="InquiryEvent.id", cascade="all, delete-orphan"
    )


class InquiryEvent(Base):
    """One entry in an inquiry's timeline; public entries may be read to the resident."""

    __tablename__ = "inquiry_events"
    # An inquiry's timeline, and its first response in the reports.
    __table_args__ = (Index("ix_inquiry_events_inquiry", "inquiry_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Sealed("inquiry_events.text"), default="")
    # A voicemail's recording address, digested so that the same recording opens one case.
    recording_digest: Mapped[str | None] = blind_index(
        "recording", "kind", "text", derive=_recording_address, index=True)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))

    inquiry: Mapped[Inquiry] = relationship(back_populates="events")


class FaqEntry(Base):
    """A question the phone line answers by itself, in every offered language."""

    __tablename__ = "faq_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    texts: Mapped[list[FaqText]] = relationship(
        back_populates="entry", cascade="all, delete-orphan"
    )


class FaqText(Base):
    """The title and spoken answer of a FAQ entry in one language."""

    __tablename__ = "faq_texts"
    __table_args__ = (UniqueConstraint("faq_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    faq_id: Mapped[int] = mapped_column(ForeignKey("faq_entries.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(200))
    answer: Mapped[str] = mapped_column(Text)

    entry: Mapped[FaqEntry] = relationship(back_populates="texts")


class Call(Base):
    """One phone call, inbound or outbound, recorded once per CallSid."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_started", "started_at"),
        # The supervisors' view reads the last hour by the time callers were put in line,
        # and who is holding now among the few calls still in progress.
        Index("ix_calls_queued", "queued_at"),
        Index("ix_calls_in_progress_queued", "queued_at",
              sqlite_where=text("ended_at IS NULL"), postgresql_where=text("ended_at IS NULL")),
        # The work screen's call to wrap up: an operator's latest answered call not wrapped up.
        Index("ix_calls_operator_unwrapped", "operator_id", "answered_at",
              sqlite_where=text("wrapped_at IS NULL"),
              postgresql_where=text("wrapped_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    direction: Mapped[str] = mapped_column(String(20), default="inbound")
    from_e164: Mapped[str | None] = mapped_column(Sealed("calls.from_e164"))
    # A returning holder is found by the digest of their number (call_queue.holding).
    from_digest: Mapped[str | None] = blind_index("phone", "from_e164", index=True)
    to_number: Mapped[str | None] = mapped_column(Sealed("calls.to_number"))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), index=True)
    language: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="in-progress")
    status_sequence: Mapped[int] = mapped_column(Integer, default=-1)
    outcome: Mapped[str | None] = mapped_column(String(20))
    path: Mapped[list[Any]] = mapped_column(default=list)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    # Filled in by the operator at wrap-up (after-call work).
    disposition: Mapped[str | None] = mapped_column(String(30))
    wrap_notes: Mapped[str | None] = mapped_column(Sealed("calls.wrap_notes"))
    wrapped_at: Mapped[datetime | None]
    # Set when retention removed the caller's number (statistics stay).
    anonymised_at: Mapped[datetime | None]

    steps: Mapped[list[CallStep]] = relationship(order_by="CallStep.id")


class CallStep(Base):
    """A side-effecting step of a call, unique per call so a webhook retry does it once."""

    __tablename__ = "call_steps"
    __table_args__ = (UniqueConstraint("call_id", "step_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    step_key: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # What the caller keyed (numbers, birth dates) and what steps returned: sealed whole.
    result: Mapped[dict[str, Any]] = mapped_column(SealedJSON("call_steps.result"), default=dict)


class CallbackRequest(Base):
    """A resident's request to be called back; keeps their original place in the line."""

    __tablename__ = "callback_requests"
    __table_args__ = (
        CheckConstraint(_in("status", CALLBACK_STATUSES), name="status_known"),
        Index(
            "uq_callback_requests_one_active_per_number",
            "phone_digest",
            unique=True,
            sqlite_where=text(_in("status", ACTIVE_CALLBACK_STATUSES)),
            postgresql_where=text(_in("status", ACTIVE_CALLBACK_STATUSES)),
        ),
        Index("ix_callback_requests_status_arrival", "status", "arrival_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"))
    phone_e164: Mapped[str] = mapped_column(Sealed("callback_requests.phone_e164"))
    # "Is this number already waiting?" is answered by the digest (one active per number).
    phone_digest: Mapped[str | None] = blind_index("phone", "phone_e164")
    language: Mapped[str] = mapped_column(String(10), default="ja")
    reason: Mapped[str] = mapped_column(String(40), default="operator")
    status: Mapped[str] = mapped_column(String(12), default="waiting")
    arrival_at: Mapped[datetime] = mapped_column(default=utcnow)
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    anonymised_at: Mapped[datetime | None]


class CallbackAttempt(Base):
    """One dial of a callback request; unique per (request, attempt) so none is dialled twice."""

    __tablename__ = "callback_attempts"
    __table_args__ = (UniqueConstraint("request_id", "attempt_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("callback_requests.id"))
    attempt_no: Mapped[int] = mapped_column(Integer)
    call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="dialing")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]


class Operator(Base):
    """A console user: operator, supervisor or admin."""

    __tablename__ = "operators"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(12), default="operator")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(10), default="ja")
    # The console in larger type for this user (their own choice in My settings).
    large_text: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    phone_e164: Mapped[str | None] = mapped_column(Sealed("operators.phone_e164"))
    # "browser" (console softphone or simulator) or "phone" (their phone_e164 is dialled).
    reach_by: Mapped[str] = mapped_column(String(10), default="browser",
                                          server_default="browser")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # The call-taking state, mirrored from Redis so the board can be rebuilt after a restart.
    state: Mapped[str] = mapped_column(String(12), default="offline", server_default="offline")
    state_since: Mapped[datetime | None]
    state_until: Mapped[datetime | None]


class ConsoleSession(Base):
    """One console login, checked by the server on every request until it ends.

    The browser's cookie carries a random token; only its SHA-256 is stored, so a copy of this
    table cannot be replayed as a cookie. `ended_at` set means the session is over for good.
    """

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_operator_open", "operator_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    # logout, idle, absolute, password, disabled, admin
    end_reason: Mapped[str | None] = mapped_column(String(20))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class ReminderSent(Base):
    """One appointment reminder sent (or tried); unique per (booking, kind) so none goes twice."""

    __tablename__ = "reminders_sent"
    __table_args__ = (UniqueConstraint("booking_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="sending")
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    call_sid: Mapped[str | None] = mapped_column(String(64))


class AuditEntry(Base):
    """Who read or changed what in a resident's record, and when."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    actor: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(40))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))


class AlertEvent(Base):
    """A supervisor threshold crossed (amber or red) and when it cleared."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_metric_raised", "metric", "raised_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    metric: Mapped[str] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(10))
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    cleared_at: Mapped[datetime | None]
    notified: Mapped[str] = mapped_column(String(60), default="", server_default="")


class TextMessage(Base):
    """A text message sent (or tried) from the console to a resident: its number and words sealed.

    The audit log says who sent which message when (ids and a masked number); the message itself
    lives here, sealed, so that the append-only audit log never holds what a key must protect.
    """

    __tablename__ = "text_messages"
    __table_args__ = (Index("ix_text_messages_sent_at", "sent_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), index=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    kind: Mapped[str] = mapped_column(String(20))
    to_e164: Mapped[str | None] = mapped_column(Sealed("text_messages.to_e164"))
    body: Mapped[str] = mapped_column(Sealed("text_messages.body"))
    status: Mapped[str] = mapped_column(String(12))
    sid: Mapped[str | None] = mapped_column(String(64))
    # The carrier's refusal may quote the number: sealed too.
    error: Mapped[str | None] = mapped_column(Sealed("text_messages.error"))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    anonymised_at: Mapped[datetime | None]


class SealingCanary(Base):
    """A known value sealed and digested with this database's keys, checked at every start.

    A process with a wrong data key or index key stops at once with a clear message, instead of
    failing later on residents' data or silently finding nobody. `state` is "plaintext" while
    an earlier version's unsealed data waits for `madoguchi db upgrade` to seal it.
    """

    __tablename__ = "sealing_canary"

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(12), default="sealed")
    data_token: Mapped[str | None] = mapped_column(Sealed("sealing_canary.data_token"))
    index_digest: Mapped[str | None] = blind_index(
        "canary", "id", derive=lambda _id: "madoguchi-index-canary")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
