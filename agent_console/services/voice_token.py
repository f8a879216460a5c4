"""Access tokens for the operators' browser softphone (Twilio Voice JavaScript SDK)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

from madoguchi.settings import Settings

# Short-lived: a stolen token is soon useless; the page renews it before it runs out.
TOKEN_TTL_SECONDS = 15 * 60


class SoftphoneNotConfigured(RuntimeError):
    """The browser softphone needs Twilio and its API key settings, which are not set."""


@dataclass(frozen=True)
class VoiceToken:
    """A signed access token and what the page needs to know about it."""

    token: str
    identity: str
    expires_at: int


def operator_identity(operator_id: int) -> str:
    """The softphone's client name, as the line's <Dial><Client> rings it."""
    return f"operator-{operator_id}"


def mint(settings: Settings, operator_id: int, *, now: float | None = None) -> VoiceToken:
    """An access token letting this operator's browser receive calls; raises when unconfigured."""
    if not settings.softphone_configured:
        raise SoftphoneNotConfigured("the browser softphone is not configured")
    secrets = settings.secrets
    issued = int(time.time() if now is None else now)
    identity = operator_identity(operator_id)
    token = AccessToken(
        secrets.twilio_account_sid,
        secrets.twilio_api_key_sid,
        secrets.twilio_api_key_secret,
        identity=identity,
        nbf=issued,
        valid_until=issued + TOKEN_TTL_SECONDS,
    )
    # Operators only answer; outgoing calls go through the TwiML app, which the line controls.
    token.add_grant(VoiceGrant(incoming_allow=True,
                               outgoing_application_sid=secrets.twilio_twiml_app_sid))
    return VoiceToken(token=token.to_jwt(), identity=identity,
                      expires_at=issued + TOKEN_TTL_SECONDS)
