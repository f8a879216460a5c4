"""A scripted caller: signed Twilio requests through the Flask test client, TwiML parsed back."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from twilio.request_validator import RequestValidator

from madoguchi.models import FaqEntry, FaqText
from tests import factories
from tests.conftest import TEST_AUTH_TOKEN

BASE = "https://madoguchi.example.test"
TWILIO_VERBS = {"Say", "Play", "Pause", "Gather", "Redirect", "Dial", "Record", "Hangup",
                "Enqueue", "Leave", "Reject", "Sms", "Message", "Refer", "Connect", "Stop",
                "Start", "Prompt", "Pay"}


def sign(url: str, params: dict[str, str]) -> str:
    """The X-Twilio-Signature Twilio would send."""
    return RequestValidator(TEST_AUTH_TOKEN).compute_signature(url, params)


@dataclass
class Document:
    """A TwiML answer, parsed."""

    status: int
    root: ET.Element

    @property
    def verbs(self) -> list[str]:
        """Top-level verb names in order."""
        return [child.tag for child in self.root]

    @property
    def gather(self) -> ET.Element | None:
        """The <Gather>, if the document asks a question."""
        return self.root.find("Gather")

    @property
    def text(self) -> str:
        """Everything said, as one string."""
        return " ".join(
            " ".join(part.strip() for part in say.itertext() if part.strip())
            for say in self.root.iter("Say")
        )

    @property
    def next_url(self) -> str:
        """Where the caller's answer (or silence) goes."""
        if self.gather is not None:
            return self.gather.get("action")
        for tag in ("Record", "Dial"):
            element = self.root.find(tag)
            if element is not None:
                return element.get("action")
        redirect = self.root.find("Redirect")
        assert redirect is not None, f"nowhere to go from {self.verbs}"
        return redirect.text

    @property
    def hung_up(self) -> bool:
        """True when the document ends the call."""
        return "Hangup" in self.verbs


class Caller:
    """One phone call driven through the webhooks, like Twilio would."""

    def __init__(self, client, call_sid: str = "CA" + "1" * 32, number: str = "+819012345678"):
        self.client = client
        self.call_sid = call_sid
        self.number = number
        self.doc: Document | None = None
        self.history: list[Document] = []

    def post(self, url: str, **fields: str) -> Document:
        """POST a signed webhook request and keep the answer."""
        self._last_url, self._last_fields = url, fields
        params = {"CallSid": self.call_sid, "From": self.number, "To": "+81312345678",
                  "AccountSid": "AC" + "0" * 32, **fields}
        response = self.client.post(url.removeprefix(BASE), data=params,
                                    headers={"X-Twilio-Signature": sign(url, params)})
        body = response.get_data(as_text=True)
        # Our own test app answered: its XML is trusted.
        root = ET.fromstring(body) if response.status_code == 200 else ET.Element("none")  # noqa: S314
        self.doc = Document(response.status_code, root)
        self.history.append(self.doc)
        return self.doc

    def dial(self) -> Document:
        """Call the city's number."""
        return self.post(f"{BASE}/voice/incoming", CallStatus="ringing")

    def press(self, digits: str) -> Document:
        """Key in an answer to the current question."""
        return self.post(self.doc.next_url, Digits=digits)


    def speak(self, words: str) -> Document:
        """Say an answer to the current question."""
        return self.post(self.doc.next_url, SpeechResult=words, Confidence="0.8")

    def wait(self) -> Document:
        """Stay silent until the question times out (Twilio posts an empty result)."""
        return self.post(self.doc.next_url)

    def repeat_last(self) -> Document:
        """Send the very same request again, as a Twilio retry does."""
        return self.post(self._last_url, **self._last_fields)


class AwkwardCaller(Caller):
    """A caller who answers every question in one awkward way, then correctly.

    pulse: "*" before the keys (a dial-pulse phone switching to tones); hash: "#" after them;
    stars: "**" alone first (the question is asked again at once); silence: no answer first
    (except while nothing at all has been heard since the greeting: that caller goes to a
    person, which is a journey of its own).
    """

    STYLES = ("pulse", "hash", "stars", "silence")

    def __init__(self, client, style: str, **kwargs):
        super().__init__(client, **kwargs)
        self.style = style

    def press(self, digits: str) -> Document:
        """Key in an answer the awkward way, checking the line copes each time."""
        if self.style == "pulse":
            return super().press("*" + digits)
        if self.style == "hash":
            return super().press(digits + "#")
        if self.style == "stars":
            cue = super().press("**")
            assert cue.gather is not None and "はい、どうぞ" in cue.text, cue.text
            return super().press(digits)
        if "q=1" not in self.doc.next_url:
            retry = self.wait()
            assert retry.gather is not None and "確認できませんでした" in retry.text, retry.text
        return super().press(digits)


@pytest.fixture
def caller(client) -> Caller:
    """A caller with a mobile caller ID not known to the city."""
    return Caller(client)


@pytest.fixture
def city(db_session):
    """A campaign with five future slots at one site, and one registered resident."""
    campaign = factories.campaign(db_session)
    site = factories.site(db_session, name="市民会館", name_en="Civic Hall")
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    slots = [
        factories.slot(db_session, campaign_id=campaign.id, site_id=site.id,
                       starts_at=start + timedelta(minutes=30 * n), capacity=2)
        for n in range(5)
    ]
    resident = factories.resident(db_session, resident_no="123456",
                                  phone="+819011112222")
    db_session.commit()
    return {"campaign": campaign, "site": site, "slots": slots, "resident": resident}


@pytest.fixture
def faq(db_session):
    """Two FAQ entries in Japanese and English."""
    for position, (ja_title, en_title) in enumerate(
        [("持ち物", "what to bring"), ("駐車場", "parking")]
    ):
        entry = FaqEntry(position=position, active=True)
        entry.texts = [
            FaqText(language="ja", title=ja_title, answer=f"{ja_title}の答えです。"),
            FaqText(language="en", title=en_title, answer=f"The answer about {en_title}."),
        ]
        db_session.add(entry)
    db_session.commit()


def configure(app, **sections: dict) -> None:
    """Change config.toml sections for one test (e.g. hours={"always_open": True})."""
    settings = app.config["SETTINGS"]
    file = settings.file.model_copy(update={
        name: getattr(settings.file, name).model_copy(update=values)
        for name, values in sections.items()
    })
    app.config["SETTINGS"] = settings.model_copy(update={"file": file})


@pytest.fixture
def open_line(app) -> None:
    """Staff at work around the clock, reachable on a fallback number."""
    configure(app, hours={"always_open": True}, queue={"fallback_number": "03-1234-9999"})


@pytest.fixture
def closed_line(app) -> datetime:
    """Closed now; opens only in three days' time, at 08:30. Returns that opening."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(app.config["SETTINGS"].city.timezone)
    opening_day = (datetime.now(tz) + timedelta(days=3)).date()
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    week = {day: "" for day in days}
    week[days[opening_day.weekday()]] = "08:30-17:15"
    configure(app, hours={**week, "always_open": False, "closed_on_public_holidays": False,
                          "closed_days": []})
    return datetime(opening_day.year, opening_day.month, opening_day.day, 8, 30, tzinfo=tz)


def statements_during(engine, work, kinds: tuple[str, ...] = ()) -> list[str]:
    """The SQL statements the engine sent while work() ran, those of `kinds` when given."""
    from sqlalchemy import event

    sent: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        if not kinds or statement.lstrip().upper().startswith(kinds):
            sent.append(statement.split("(")[0][:60])

    event.listen(engine, "before_cursor_execute", note)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return sent
