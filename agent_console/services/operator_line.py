"""The operator's side of a connected call, the same for the built-in simulator and Twilio.

The database says which call an operator took; this small seam answers the rest: is that call
bridged to the operator right now, what has the caller said (the simulator carries speech as
text; with Twilio the operator hears it in the browser), and ending the operator's part.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Protocol

from redis import Redis

from madoguchi.settings import Settings
from madoguchi.telephony.base import CallNotLive, Telephony
from madoguchi.telephony.network import SimulatedNetwork


class OperatorLine(Protocol):
    """The phone network as the operator's console needs it."""

    def is_bridged(self, call_sid: str, operator_id: int) -> bool:
        """True when the caller on call_sid is talking with this operator now."""
        ...

    def heard(self, call_sid: str) -> list[str]:
        """What the caller has said to the operator so far (as text, when the network has it)."""
        ...

    def end(self, call_sid: str) -> None:
        """The operator hangs up their side of the call."""
        ...


def client_name(operator_id: int) -> str:
    """The browser client name an operator is dialled as (see call_queue.views)."""
    return f"operator-{operator_id}"


class SimulatedOperatorLine:
    """The operator's side on the built-in phone network (a live call bridged to the client)."""

    def __init__(self, network: SimulatedNetwork) -> None:
        self.network = network

    def is_bridged(self, call_sid: str, operator_id: int) -> bool:
        """The simulated call is live and its <Dial> reached this operator's client."""
        call = self.network.get_call(call_sid)
        if call is None or call.status != "in-progress":
            return False
        targets = [target.strip() for target in call.bridged_to.split(",")]
        return f"client {client_name(operator_id)}" in targets

    def heard(self, call_sid: str) -> list[str]:
        """The simulator's transcript of the bridged caller."""
        return self.network.transcript(call_sid)

    def end(self, call_sid: str) -> None:
        """End the <Dial>: the caller's call goes on to the goodbye after it."""
        self.network.end_dial(call_sid)


class TwilioOperatorLine:
    """The operator's side on Twilio: audio runs in the browser's Voice SDK, not here."""

    def __init__(self, telephony: Telephony) -> None:
        self.telephony = telephony

    def is_bridged(self, call_sid: str, operator_id: int) -> bool:
        """Twilio does not tell us without a REST round trip; the database's answer stands."""
        return True

    def heard(self, call_sid: str) -> list[str]:
        """No text: the operator hears the caller through the softphone."""
        return []

    def end(self, call_sid: str) -> None:
        """Hang up the caller's call through the seam (the softphone can also hang up)."""
        # Already over: its end reaches the line through the call's own webhooks.
        with suppress(CallNotLive):
            self.telephony.hangup(call_sid)


def operator_line(settings: Settings, telephony: Telephony, redis: Redis) -> OperatorLine:
    """The OperatorLine for the configured network."""
    if settings.uses_twilio:
        return TwilioOperatorLine(telephony)
    return SimulatedOperatorLine(SimulatedNetwork(redis))
