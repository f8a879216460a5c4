"""Read a TwiML document into verbs, rejecting what Twilio would reject.

Error codes are Twilio's: 12100 (document parse failure) and 12200 (schema validation).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring

PARSE_FAILURE = 12100
SCHEMA_VIOLATION = 12200

# Voice verbs the simulator plays, and what each may contain.
VERB_CHILDREN: dict[str, frozenset[str]] = {
    "Say": frozenset(),  # SSML inside <Say> is handled separately
    "Play": frozenset(),
    "Pause": frozenset(),
    "Gather": frozenset({"Say", "Play", "Pause"}),
    "Redirect": frozenset(),
    "Enqueue": frozenset({"Task"}),
    "Leave": frozenset(),
    "Dial": frozenset({"Number", "Client", "Queue", "Sip", "Conference"}),
    "Hangup": frozenset(),
    "Record": frozenset(),
    "Reject": frozenset(),
}
# Real Twilio verbs this simulator does not play: an honest error instead of a silent skip.
UNSUPPORTED_VERBS = frozenset(
    {"Connect", "Start", "Stop", "Pay", "Prompt", "Refer", "Echo", "Sms", "Message"}
)
SSML_TAGS = frozenset(
    {"break", "emphasis", "lang", "p", "phoneme", "prosody", "s", "say-as", "sub", "w",
     "amazon:domain", "amazon:effect"}
)
INTEGER_ATTRIBUTES = {
    "Gather": ("timeout", "numDigits"),
    "Pause": ("length",),
    "Say": ("loop",),
    "Play": ("loop",),
    "Record": ("timeout", "maxLength"),
    "Dial": ("timeout", "timeLimit"),
}
_BREAK_STRENGTH_MS = {"none": 0, "x-weak": 100, "weak": 250, "medium": 500, "strong": 750,
                      "x-strong": 1000}


class TwimlError(Exception):
    """The document is not TwiML the network can run; code is Twilio's error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Verb:
    """One TwiML verb (or noun) with its attributes, text and nested verbs."""

    name: str
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""
    children: tuple[Verb, ...] = ()

    def attr(self, name: str, default: str = "") -> str:
        """An attribute's value, or the default when absent."""
        return self.attrs.get(name, default)

    def int_attr(self, name: str, default: int) -> int:
        """An integer attribute (already validated by parse), or the default."""
        value = self.attrs.get(name)
        return int(value) if value not in (None, "") else default

    def flag(self, name: str) -> bool:
        """A true/false attribute."""
        return self.attrs.get(name, "false").strip().lower() == "true"


def parse(document: str | bytes) -> list[Verb]:
    """The verbs of a TwiML <Response>, in order; raises TwimlError like Twilio would."""
    try:
        # defusedxml: a document with entity declarations (billion laughs, external entities)
        # is refused, as Twilio refuses it, instead of being expanded.
        root = safe_fromstring(document)
    except ET.ParseError as exc:
        raise TwimlError(PARSE_FAILURE, f"the document is not well-formed XML ({exc})") from None
    except DefusedXmlException as exc:
        raise TwimlError(PARSE_FAILURE, f"the document declares entities ({exc!r})") from None
    if root.tag != "Response":
        raise TwimlError(PARSE_FAILURE, f"the root element must be <Response>, not <{root.tag}>")
    return [_verb(element, allowed=frozenset(VERB_CHILDREN)) for element in root]


def _verb(element: ET.Element, allowed: frozenset[str]) -> Verb:
    name = element.tag
    if name in UNSUPPORTED_VERBS:
        raise TwimlError(SCHEMA_VIOLATION, f"<{name}> is a Twilio verb the simulator cannot play")
    if name not in allowed:
        known = name in VERB_CHILDREN or name in VERB_CHILDREN["Dial"]
        reason = "is not allowed here" if known else "is not a TwiML verb"
        raise TwimlError(SCHEMA_VIOLATION, f"<{name}> {reason}")
    for attribute in INTEGER_ATTRIBUTES.get(name, ()):
        value = element.get(attribute)
        if value is not None and not re.fullmatch(r"\d+", value.strip()):
            raise TwimlError(
                SCHEMA_VIOLATION, f'<{name} {attribute}="{value}">: expected a whole number'
            )
    if name == "Say":
        return Verb(name, dict(element.attrib), spoken_text(element))
    children = tuple(_verb(child, VERB_CHILDREN.get(name, frozenset())) for child in element)
    return Verb(name, dict(element.attrib), (element.text or "").strip(), children)


def spoken_text(say: ET.Element) -> str:
    """The words of a <Say> without SSML tags; each <break> becomes "…" so pauses show."""
    parts = [say.text or ""]
    for child in say:
        if child.tag not in SSML_TAGS:
            raise TwimlError(SCHEMA_VIOLATION, f"<{child.tag}> is not allowed inside <Say>")
        if child.tag == "break":
            if _break_ms(child) > 0:
                parts.append(" … ")
        else:
            parts.append(spoken_text(child))
        parts.append(child.tail or "")
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def _break_ms(element: ET.Element) -> int:
    time_value = element.get("time", "")
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*", time_value)
    if match:
        amount = float(match.group(1))
        return int(amount if match.group(2) == "ms" else amount * 1000)
    return _BREAK_STRENGTH_MS.get(element.get("strength", "medium"), 500)
