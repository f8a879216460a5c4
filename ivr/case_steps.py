"""A resident's open cases, read once they have identified themselves (no reference needed)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ivr.state import Go, Outcome
from madoguchi import calls, inquiries
from madoguchi.models import Inquiry
from madoguchi.voice.speech import Line

if TYPE_CHECKING:
    from ivr.flow import CallFlow

# Kana or kanji: a staff note written in Japanese.
JAPANESE_SCRIPT = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

# Cases read on the phone; more than this and the caller is told how many others there are
# (a person can go through them), as a long list is lost on the listener.
CASES_READ = 3


def case_lines(flow: CallFlow, inquiry: Inquiry) -> list[Line]:
    """One case said aloud: when it was received, its number, its status, its public note."""
    received = inquiry.created_at.astimezone(flow.settings.tz).date()
    lines = [flow.speaker.line(
        "case_status", date=flow.speaker.date(received),
        code=flow.speaker.digits(inquiry.reference),
        status=flow.speaker.catalog.text(f"status_{inquiry.status}"))]
    update = inquiries.last_public_update(inquiry)
    if update is not None:
        lines.extend(update_lines(flow, update.text))
    return lines


def update_lines(flow: CallFlow, text: str) -> list[Line]:
    """A case's public note: in the caller's voice, or, when staff wrote it in Japanese for a
    caller of another language, announced as such and said in the Japanese voice (another
    language's voice cannot read kanji)."""
    if (flow.state.lang == "ja" or not JAPANESE_SCRIPT.search(text)
            or "ja" not in flow.settings.languages.offered):
        return [flow.speaker.line("inquiry_update", text=text)]
    return [flow.speaker.line("inquiry_update_japanese"), Line(text, lang="ja")]


def r_cases_identified(flow: CallFlow) -> Outcome:
    """Read the identified caller's open cases, newest first, then their booking."""
    resident_id = flow.resident_id()
    if resident_id is None:
        return Go("identify", changes={"goal": "check"})
    found = inquiries.open_for_resident(flow.session, resident_id)
    calls.add_path(flow.session, flow.call, "cases_read", str(len(found)))
    if not found:
        return Go("check_identified", ("cases_none",))
    lines: list[Line | str] = [
        flow.speaker.line("cases_count", count=len(found)) if len(found) > 1 else "cases_one"]
    for inquiry in found[:CASES_READ]:
        lines.extend(case_lines(flow, inquiry))
    if len(found) > CASES_READ:
        lines.append(flow.speaker.line("cases_more", count=len(found) - CASES_READ,
                                       key=flow.menu.operator_key))
    calls.set_outcome(flow.session, flow.call, "self_served")
    return Go("check_identified", tuple(lines))
