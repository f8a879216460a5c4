"""TwilioTelephony: the seam over Twilio's REST API (production)."""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timedelta

import requests
from redis import Redis
from redis.exceptions import RedisError
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from madoguchi import phone
from madoguchi.settings import Settings
from madoguchi.telephony.base import (
    AccountRefused,
    CallNotLive,
    CallParties,
    NetworkBusy,
    NetworkRecording,
    OutcomeUnknown,
    RecordingAudio,
    RecordingNotFound,
    TelephonyError,
)

log = logging.getLogger(__name__)
# Twilio's client logs every request's URL and query string at INFO, the numbers in them
# unmasked (a list of calls to a resident's number); its warnings and errors still show.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
_NUMBER = re.compile(r"\+?\d[\d\s()-]{6,}\d")
# Calls to one resident within a callback's lifetime are few; Twilio lists newest first.
RECENT_CALLS_LOOKED_AT = 20
# Twilio keeps a call's creation time to the second, on its own clock: a call created in the
# same second as the moment asked about, or a little before it by our clock, is still one we
# placed then. Attempts to one number are minutes apart, so the slack finds no older one.
PLACED_SLACK = timedelta(seconds=5)
API = "https://api.twilio.com/2010-04-01"
# Twilio's own client waits for ever by default. A webhook that asks Twilio's API something
# (a confirmation SMS, taking a caller off hold) must still answer within Twilio's 15 s.
# It bounds the connection and each read apart, so a request takes at most about twice this.
API_TIMEOUT_SECONDS = 4
# Twilio's answers to a request on a call that is over: 20404 (no such call) or 21220 (the
# call is not in progress, so it cannot be redirected).
CALL_OVER_CODES = frozenset({20404, 21220})
_RECORDING_URL = re.compile(
    r"https://api\.twilio\.com/2010-04-01/Accounts/(AC[0-9a-f]{32})/Recordings/(RE[0-9a-f]{32})"
    r"(?:\.(?:mp3|wav|json))?")
# What a request to Twilio's API may raise: Twilio's errors, and the HTTP library's own when
# Twilio cannot be reached or does not answer in time (its client passes those on as they are).
_API_ERRORS = (TwilioRestException, TwilioException, requests.RequestException)
# A recording is a few hundred kilobytes; a slow answer should not hold an operator's page long.
RECORDING_TIMEOUT_SECONDS = 15
# Every message left on the fallback during a database outage is a resident's request: the list
# is read page by page (Twilio's largest page, 1,000) up to a surge day's worth, newest first.
RECORDINGS_PAGE = 1000
RECORDINGS_LISTED = 20_000


class TwilioTelephony:
    """Calls and texts through a Twilio account; the HTTP client is injectable for tests."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        http_client: HttpClient | None = None,
        media_http: requests.Session | None = None,
        redis: Redis | None = None,
    ) -> None:
        self.from_number = from_number
        # Shared by every process (the worker forks one per job): says when a refusal was told.
        self._redis = redis
        self.client = Client(account_sid, auth_token, http_client=http_client or TwilioHttpClient(
            timeout=API_TIMEOUT_SECONDS))
        self._account_sid = account_sid
        self._auth_token = auth_token
        # Recordings are binary; Twilio's own client reads bodies as text, so media goes
        # through a requests session (injectable like the API client).
        self._media_http = media_http or requests.Session()

    @classmethod
    def from_settings(
        cls, settings: Settings, http_client: HttpClient | None = None,
        media_http: requests.Session | None = None, redis: Redis | None = None,
    ) -> TwilioTelephony:
        """The adapter for the configured account, calling from TWILIO_PHONE_NUMBER."""
        number = settings.secrets.twilio_phone_number
        if not number:
            raise TelephonyError("TWILIO_PHONE_NUMBER: required when TWILIO_ACCOUNT_SID is set")
        from_number = phone.try_normalize(number, settings.city.region)
        if from_number is None:
            raise TelephonyError("TWILIO_PHONE_NUMBER: not a valid phone number")
        assert settings.secrets.twilio_account_sid is not None
        return cls(
            settings.secrets.twilio_account_sid,
            settings.secrets.twilio_auth_token,
            from_number,
            http_client,
            media_http,
            redis,
        )

    def _failure(self, exc: Exception, what: str, *, on_call: bool = False,
                 creates: bool = False) -> TelephonyError:
        """The TelephonyError for a failed request; a refused account is told in the log."""
        error = _failure(exc, what, on_call=on_call, creates=creates)
        if isinstance(error, AccountRefused):
            _tell_account_refused(_http_status(exc), self._redis)
        return error

    def send_sms(self, to_e164: str, body: str) -> str:
        """Send an SMS through Twilio; return the message sid."""
        try:
            message = self.client.messages.create(to=to_e164, from_=self.from_number, body=body)
        except _API_ERRORS as exc:
            raise self._failure(exc, f"SMS to {phone.mask(to_e164)}", creates=True) from None
        log.info("SMS %s sent to %s", message.sid, phone.mask(to_e164))
        return str(message.sid)

    def place_call(
        self,
        to_e164: str,
        *,
        url: str,
        status_callback: str,
        timeout_seconds: int,
        machine_detection: bool,
    ) -> str:
        """Start an outbound call through Twilio; return the CallSid."""
        options: dict[str, object] = {
            "to": to_e164,
            "from_": self.from_number,
            "url": url,
            "method": "POST",
            "status_callback": status_callback,
            "status_callback_method": "POST",
            "status_callback_event": ["completed"],
            "timeout": timeout_seconds,
        }
        if machine_detection:
            options["machine_detection"] = "Enable"
        try:
            call = self.client.calls.create(**options)
        except _API_ERRORS as exc:
            raise self._failure(exc, f"call to {phone.mask(to_e164)}", creates=True) from None
        log.info("call %s placed to %s", call.sid, phone.mask(to_e164))
        return str(call.sid)

    def calls_placed_to(self, to_e164: str, since: datetime) -> list[str]:
        """CallSids of our calls to the number created since the moment (newest first)."""
        try:
            found = self.client.calls.list(to=to_e164, from_=self.from_number,
                                           limit=RECENT_CALLS_LOOKED_AT)
        except _API_ERRORS as exc:
            raise self._failure(exc, f"listing calls to {phone.mask(to_e164)}") from None
        earliest = since.replace(microsecond=0) - PLACED_SLACK
        return [str(call.sid) for call in found
                if call.date_created is not None and call.date_created >= earliest]

    def call_status(self, call_sid: str) -> str | None:
        """The call's status as Twilio reports it; None when Twilio does not know the call."""
        try:
            call = self.client.calls(call_sid).fetch()
        except _API_ERRORS as exc:
            if _not_found(exc):
                return None
            raise self._failure(exc, f"status of call {call_sid}") from None
        return str(call.status) if call.status else None

    def redirect_call(self, call_sid: str, url: str) -> None:
        """Point a live call at new TwiML."""
        try:
            self.client.calls(call_sid).update(url=url, method="POST")
        except _API_ERRORS as exc:
            raise self._failure(exc, f"redirect of call {call_sid}", on_call=True) from None

    def hangup(self, call_sid: str) -> None:
        """End a live call."""
        try:
            self.client.calls(call_sid).update(status="completed")
        except _API_ERRORS as exc:
            raise self._failure(exc, f"hang-up of call {call_sid}", on_call=True) from None

    def fetch_recording(self, recording_url: str) -> RecordingAudio:
        """The MP3 of one of this account's recordings, fetched with the account's credentials.

        Only an address of this account's recordings is fetched: the address comes from a
        webhook, and the credentials must never be sent anywhere else.
        """
        sid = self._own_recording(recording_url)
        if sid is None:
            raise RecordingNotFound("not a recording of this Twilio account")
        url = f"{API}/Accounts/{self._account_sid}/Recordings/{sid}.mp3"
        try:
            answer = self._media_http.get(url, auth=(self._account_sid, self._auth_token),
                                          timeout=RECORDING_TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            raise TelephonyError(f"recording {sid}: {type(exc).__name__}") from None
        if answer.status_code == 404:
            raise RecordingNotFound(f"recording {sid} is no longer kept by Twilio")
        if answer.status_code != 200:
            raise TelephonyError(f"recording {sid}: HTTP {answer.status_code}")
        return RecordingAudio(answer.content, "audio/mpeg")

    def delete_recording(self, recording_url: str) -> bool:
        """Delete one of this account's recordings from Twilio; True once Twilio has none.

        False for another account's (the city moved accounts), which these credentials cannot
        delete: its id is logged for deleting it in that account.
        """
        sid = self._own_recording(recording_url)
        if sid is None:
            found = re.search(r"RE[0-9a-f]{32}", recording_url)
            log.warning("recording %s is not of this Twilio account: delete it in its own",
                        found.group(0) if found else "(not a Twilio recording address)")
            return False
        try:
            self.client.recordings(sid).delete()
        except _API_ERRORS as exc:
            if not _not_found(exc):
                raise self._failure(exc, f"deleting recording {sid}") from None
        return True

    def _own_recording(self, recording_url: str) -> str | None:
        """The RE… id of a recording address of this account; None for any other address."""
        match = _RECORDING_URL.fullmatch(recording_url)
        return match.group(2) if match and match.group(1) == self._account_sid else None

    def recordings_since(self, since: datetime) -> list[NetworkRecording]:
        """This account's recordings created since the moment, from Twilio's recordings list."""
        try:
            found = self.client.recordings.list(date_created_after=since,
                                                limit=RECORDINGS_LISTED,
                                                page_size=RECORDINGS_PAGE)
        except _API_ERRORS as exc:
            raise self._failure(exc, "listing recordings") from None
        if len(found) >= RECORDINGS_LISTED:
            log.warning("more than %d recordings since %s: the oldest are not looked at",
                        RECORDINGS_LISTED, since.isoformat())
        return [
            NetworkRecording(
                url=f"{API}/Accounts/{self._account_sid}/Recordings/{item.sid}",
                call_sid=str(item.call_sid), seconds=int(item.duration or 0),
                created_at=item.date_created)
            for item in found if item.date_created is not None
        ]

    def parties_of(self, call_sid: str) -> CallParties:
        """The From and To numbers of a call, as Twilio keeps them."""
        try:
            call = self.client.calls(call_sid).fetch()
        except _API_ERRORS as exc:
            raise self._failure(exc, f"reading call {call_sid}") from None
        # The library keeps "from" under a private name (a keyword in Python).
        caller, called = getattr(call, "_from", None), getattr(call, "to", None)
        return CallParties(str(caller) if caller else None, str(called) if called else None)


def _failure(exc: Exception, what: str, *, on_call: bool = False,
             creates: bool = False) -> TelephonyError:
    """The TelephonyError for a failed request: unknown outcome, busy, call over, or refused.

    A request that creates something (a call, a text) may have created it before a 5xx came
    back: its outcome is unknown. A 429, or the account refused (401, 403), says for certain
    that nothing was done.
    """
    said = f"{what} failed: {_reason(exc)}"
    if isinstance(exc, requests.ConnectTimeout):  # never connected: nothing was asked
        return NetworkBusy(said)
    if isinstance(exc, requests.RequestException):
        return OutcomeUnknown(said)
    status = _http_status(exc)
    if status in (401, 403):
        return AccountRefused(said)
    if on_call and isinstance(exc, TwilioRestException) and (
            exc.status == 404 or exc.code in CALL_OVER_CODES):
        return CallNotLive(said)
    if status >= 500 and creates:
        return OutcomeUnknown(said)
    if status == 429 or status >= 500:
        return NetworkBusy(said)
    return TelephonyError(said)


# While the account is refused every dial, redirect and lookup meets it: said once a minute,
# across processes when Redis is at hand (in this process only when it is not).
ACCOUNT_REFUSED_LOG_SECONDS = 60
ACCOUNT_REFUSED_TOLD_KEY = "madoguchi:twilio:account-refused-told"
_account_refused_told_at = [float("-inf")]


def _tell_account_refused(status: int, redis: Redis | None) -> None:
    """Log at error level, at most once a minute, that Twilio refuses this account."""
    if not _first_this_minute(redis):
        return
    log.error("Twilio refused this account (HTTP %d): calls and texts wait until "
              "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are put right", status)


def _first_this_minute(redis: Redis | None) -> bool:
    if redis is not None:
        try:
            return bool(redis.set(ACCOUNT_REFUSED_TOLD_KEY, "1", nx=True,
                                  ex=ACCOUNT_REFUSED_LOG_SECONDS))
        except RedisError:
            pass  # told by this process's own clock instead
    now = time.monotonic()
    if now - _account_refused_told_at[0] < ACCOUNT_REFUSED_LOG_SECONDS:
        return False
    _account_refused_told_at[0] = now
    return True


def _not_found(exc: Exception) -> bool:
    """True when Twilio answered that it has no such resource (HTTP 404)."""
    return isinstance(exc, TwilioRestException) and exc.status == 404


def _http_status(exc: Exception) -> int:
    """Twilio's HTTP status in its error; 0 when none came (a listing's page carries its own)."""
    if isinstance(exc, TwilioRestException):
        return exc.status or 0
    answer = exc.args[1] if len(exc.args) > 1 else None
    return getattr(answer, "status_code", 0) or 0


def _reason(exc: Exception) -> str:
    """Twilio's error as one line, without the request URL (which names the account)."""
    if isinstance(exc, TwilioRestException):
        text = f"Twilio error {exc.code} (HTTP {exc.status}): {exc.msg}"
    elif isinstance(exc, requests.ConnectTimeout):
        text = "Twilio could not be reached (ConnectTimeout)"
    elif isinstance(exc, requests.RequestException):
        # Its text names the host, the account's URL and the library's internals.
        text = f"Twilio did not answer ({type(exc).__name__})"
    else:
        text = str(exc) or type(exc).__name__
    # Twilio's messages may quote the number; logs and exceptions must not carry it.
    return _NUMBER.sub("[number]", text)
