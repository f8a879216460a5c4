"""The seam to the phone network: Twilio when credentials are configured, else the simulator."""

from __future__ import annotations

from flask import Flask, current_app
from redis import Redis

from madoguchi.redis_conn import get_redis
from madoguchi.settings import Settings
from madoguchi.telephony.base import Telephony, TelephonyError

__all__ = ["Telephony", "TelephonyError", "build_telephony", "get_telephony", "init_app"]

_EXTENSION = "madoguchi_telephony"


def build_telephony(settings: Settings, redis: Redis | None = None) -> Telephony:
    """The Telephony for these settings: TwilioTelephony, or SimulatedTelephony on redis."""
    if settings.uses_twilio:
        from madoguchi.telephony.twilio_adapter import TwilioTelephony

        return TwilioTelephony.from_settings(settings, redis=redis)
    from madoguchi.telephony.simulated import SimulatedTelephony

    return SimulatedTelephony.from_settings(settings, redis)


def init_app(app: Flask) -> None:
    """Register the telephony extension; the implementation is built on first use."""
    app.extensions[_EXTENSION] = None


def get_telephony() -> Telephony:
    """The current app's Telephony (built once per app)."""
    telephony = current_app.extensions.get(_EXTENSION)
    if telephony is None:
        if _EXTENSION not in current_app.extensions:
            raise RuntimeError("telephony.init_app(app) was not called in create_app")
        settings = current_app.config["SETTINGS"]
        telephony = build_telephony(settings, get_redis())
        current_app.extensions[_EXTENSION] = telephony
    return telephony
