"""An asyncio phone that plays Twilio's part for one call at a time, thousands at once.

It follows the app's TwiML as the project's simulator does (madoguchi.telephony.engine), with
the same parser and signatures, but on one event loop instead of a thread per call: a signed
POST with Twilio's parameter names, then each verb in real time (spoken prompts take as long
as they take to say, a key press takes a moment), Gathers answered by the journey, <Enqueue>
with its waitUrl loop, and the status callback at the end. Every request is timed and every
failure is kept with its cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import aiohttp
from twilio.request_validator import RequestValidator

from madoguchi.telephony.engine import _collect_digits, _speaking_seconds
from madoguchi.telephony.twiml_reader import TwimlError, Verb, parse

ACCOUNT_SID = "AC" + "0" * 32
# Twilio gives a webhook 15 seconds before it gives up on it (error 11200).
TWILIO_TIMEOUT_SECONDS = 15.0
# A person needs about a second to find the keypad, then a third of a second per key.
FIRST_KEY_SECONDS = 1.0
NEXT_KEY_SECONDS = 0.3
PLAY_SECONDS = 5.0
# Words of the app's own apology (prompts: error_sorry, fallback_apology): a failure.
APOLOGY_MARKERS = ("不具合", "an error has occurred", "a system problem")
HANGUP = "hangup"


@dataclass
class Sample:
    """One webhook request: which endpoint, how long, what came back."""

    endpoint: str
    seconds: float
    status: int | None
    at: float


@dataclass
class Tally:
    """Everything the phones measured: request samples, failures with causes, journey ends."""

    samples: list[Sample] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    error_examples: dict[str, str] = field(default_factory=dict)
    outcomes: Counter = field(default_factory=Counter)
    stuck_examples: dict[str, str] = field(default_factory=dict)

    def error(self, cause: str, example: str) -> None:
        """Count a failure under its cause and keep its first example."""
        self.errors[cause] += 1
        self.error_examples.setdefault(cause, example[:300])


class CallFailed(Exception):
    """The call could not go on (an error, recorded in the tally)."""


class CallOver(Exception):
    """The call ended normally; outcome says how."""

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


class _Jump(Exception):
    """Fetch the next document (Redirect, a Gather's action)."""

    def __init__(self, url: str, params: dict[str, str] | None = None) -> None:
        super().__init__(url)
        self.url = url
        self.params = params or {}


class _Leave(Exception):
    """<Leave> inside the wait music."""


def endpoint_of(url: str) -> str:
    """The path of a webhook URL, without its query: the unit latencies are reported by."""
    return urlsplit(url).path


class AsyncPhone:
    """Plays calls against one app: signs as Twilio does and waits as people do."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, auth_token: str, tally: Tally,
                 *, think_scale: float = 1.0, to_number: str = "+81312345678",
                 entry_path: str = "/voice/incoming", status_path: str = "/voice/status") -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.validator = RequestValidator(auth_token)
        self.tally = tally
        self.think_scale = think_scale
        self.to_number = to_number
        self.entry_path = entry_path
        self.status_path = status_path
        self.deadline = float("inf")  # no request starts after this (time.monotonic())
        self.in_flight = 0

    async def think(self, seconds: float) -> None:
        """Let real time pass (scaled; 0 for a throughput run)."""
        if self.think_scale > 0 and seconds > 0:
            await asyncio.sleep(seconds * self.think_scale)

    async def post(self, url: str, params: dict[str, str]) -> tuple[int, bytes]:
        """A signed webhook POST, timed; raises CallFailed (recorded) on any failure."""
        if time.monotonic() > self.deadline:
            raise CallOver("cut-at-end-of-run")
        url = urljoin(self.base_url + "/", url)
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, params),
                   "User-Agent": "TwilioProxy/1.1"}
        endpoint = endpoint_of(url)
        started = time.perf_counter()
        self.in_flight += 1
        try:
            async with self.http.post(url, data=params, headers=headers) as response:
                body = await response.read()
                status = response.status
        except TimeoutError:
            self._sample(endpoint, started, None)
            self.tally.error(f"timeout after {TWILIO_TIMEOUT_SECONDS:.0f} s (Twilio 11200) "
                             f"at {endpoint}", url)
            raise CallFailed from None
        except aiohttp.ClientError as exc:
            self._sample(endpoint, started, None)
            self.tally.error(f"connection failed at {endpoint}: {type(exc).__name__}", str(exc))
            raise CallFailed from None
        finally:
            self.in_flight -= 1
        self._sample(endpoint, started, status)
        if status >= 400:
            self.tally.error(f"HTTP {status} at {endpoint}", body.decode("utf-8", "replace"))
            raise CallFailed
        return status, body

    def _sample(self, endpoint: str, started: float, status: int | None) -> None:
        now = time.perf_counter()
        self.tally.samples.append(Sample(endpoint, now - started, status, now))

    def held(self, since: float | None) -> float | None:
        """Seconds held in the queue on the call's own (scaled) clock; None when not holding."""
        if since is None:
            return None
        if self.think_scale <= 0:
            return float("inf")
        return (time.monotonic() - since) / self.think_scale

    async def call(self, journey, from_number: str) -> str:
        """Play one whole call with this journey; returns how it ended (also tallied)."""
        run = _Call(self, journey, from_number)
        outcome = await run.play()
        self.tally.outcomes[outcome] += 1
        return outcome


class _Call:
    """One call in progress."""

    def __init__(self, phone: AsyncPhone, journey, from_number: str) -> None:
        self.phone = phone
        self.journey = journey
        self.url = phone.entry_path
        self.sid = "CA" + secrets.token_hex(16)
        self.from_number = from_number
        self.heard: list[str] = []
        self.started = time.monotonic()
        self.held_since: float | None = None

    def params(self, status: str = "in-progress") -> dict[str, str]:
        """Twilio's parameters on every webhook of this call."""
        return {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": self.sid,
                "CallStatus": status, "Direction": "inbound", "From": self.from_number,
                "To": self.phone.to_number, "Caller": self.from_number,
                "Called": self.phone.to_number}

    async def load(self, url: str, extra: dict[str, str]) -> list[Verb]:
        """Fetch and parse a TwiML document; an unusable one is a recorded failure."""
        _, body = await self.phone.post(url, {**self.params(), **extra})
        try:
            verbs = parse(body)
        except TwimlError as exc:
            self.phone.tally.error(f"TwiML {exc.code} from {endpoint_of(url)}", exc.message)
            raise CallFailed from None
        return verbs

    async def play(self) -> str:
        """Follow the call from the first webhook to its end, then send the status callback."""
        outcome = "error"
        try:
            verbs = await self.load(self.phone.entry_path, {})
            while True:
                try:
                    await self.run_verbs(verbs, in_queue=False)
                    raise CallOver(self.journey.ended_by_line(self.prompt()))
                except _Jump as jump:
                    self.url = urljoin(self.url, jump.url)
                    verbs = await self.load(self.url, jump.params)
        except CallOver as over:
            outcome = over.outcome
        except CallFailed:
            outcome = "error"
        if outcome != "cut-at-end-of-run":
            duration = str(int(time.monotonic() - self.started))
            status = {**self.params("completed"), "CallDuration": duration,
                      "SequenceNumber": "0", "CallbackSource": "call-progress-events"}
            try:
                await self.phone.post(self.phone.status_path, status)
            except CallFailed:
                outcome = "error"
            except CallOver:
                pass
        return outcome

    def prompt(self) -> str:
        """What the line said since the caller last acted."""
        return " ".join(self.heard)

    def _check_apology(self, text: str) -> None:
        if any(marker in text for marker in APOLOGY_MARKERS):
            self.phone.tally.error(f"the app apologised for a failure at {endpoint_of(self.url)}",
                                   text)
            raise CallFailed

    async def speak(self, verb: Verb) -> None:
        """Hear a Say, Play or Pause, taking as long as it lasts."""
        if verb.name == "Say":
            self._check_apology(verb.text)
            self.heard.append(verb.text)
            await self.phone.think(_speaking_seconds(verb.text) * (verb.int_attr("loop", 1) or 1))
        elif verb.name == "Play":
            await self.phone.think(PLAY_SECONDS * (verb.int_attr("loop", 1) or 1))
        elif verb.name == "Pause":
            await self.phone.think(verb.int_attr("length", 1))

    async def run_verbs(self, verbs: list[Verb], *, in_queue: bool) -> None:
        """Run a document's verbs in order."""
        for verb in verbs:
            if verb.name in ("Say", "Play", "Pause"):
                await self.speak(verb)
            elif verb.name == "Gather":
                await self.gather(verb, in_queue)
            elif verb.name == "Redirect":
                raise _Jump(verb.text)
            elif verb.name in ("Hangup", "Reject"):
                raise CallOver(self.journey.ended_by_line(self.prompt()))
            elif verb.name == "Leave" and in_queue:
                raise _Leave
            elif verb.name == "Enqueue":
                await self.enqueue(verb)
            else:  # Dial, Record: no journey of this load reaches them
                raise CallOver(f"reached-{verb.name.lower()}")

    async def gather(self, verb: Verb, in_queue: bool) -> None:
        """Hear the question, then answer as the journey says (keys, silence or hang up)."""
        for child in verb.children:
            await self.speak(child)
        held = self.phone.held(self.held_since)
        answer = self.journey.answer(self.prompt(), held)
        timeout = verb.int_attr("timeout", 5)
        if answer == HANGUP:
            raise CallOver(self.journey.outcome)
        if answer is None:
            if held is None and not in_queue:
                self.phone.tally.stuck_examples.setdefault(type(self.journey).__name__,
                                                           self.prompt()[-200:])
                raise CallOver("stuck")
            await self.phone.think(timeout)
            if not verb.flag("actionOnEmptyResult"):
                self.heard = []
                return
            raise _Jump(verb.attr("action") or self.url, {"Digits": ""})
        await self.phone.think(FIRST_KEY_SECONDS + NEXT_KEY_SECONDS * (len(answer) - 1))
        digits, finished = _collect_digits(answer, verb.int_attr("numDigits", 0) or None,
                                           verb.attr("finishOnKey", "#"))
        self.heard = []
        raise _Jump(verb.attr("action") or self.url,
                    {"Digits": digits, "FinishedOnKey": finished or ""})

    async def enqueue(self, verb: Verb) -> None:
        """Hold in a queue: fetch the waitUrl again and again until the caller leaves it."""
        queue_sid = "QU" + secrets.token_hex(16)
        self.held_since = time.monotonic()
        wait_url = urljoin(self.url, verb.attr("waitUrl"))
        next_url, answer = wait_url, {}
        result = "leave"
        try:
            while True:
                waited = str(int(time.monotonic() - self.held_since))
                params = {"QueueSid": queue_sid, "QueuePosition": "1", "QueueTime": waited,
                          "AvgQueueTime": waited, "CurrentQueueSize": "1",
                          "MaxQueueSize": "1000", **answer}
                verbs = await self.load(next_url, params)
                try:
                    await self.run_verbs(verbs, in_queue=True)
                    next_url, answer = wait_url, {}
                except _Jump as jump:
                    next_url, answer = urljoin(next_url, jump.url), jump.params
        except _Leave:
            result = "leave"
        except CallOver:
            result = "hangup"
            raise
        finally:
            queue_time = str(int(time.monotonic() - self.held_since))
            self.held_since = None
            if verb.attr("action") and result == "hangup":
                # Twilio still reports the hang-up to the Enqueue action; its answer is moot.
                with contextlib.suppress(CallFailed, CallOver):
                    await self.load(urljoin(self.url, verb.attr("action")),
                                    {"QueueResult": "hangup", "QueueSid": queue_sid,
                                     "QueueTime": queue_time})
        if verb.attr("action"):
            raise _Jump(verb.attr("action"), {"QueueResult": result, "QueueSid": queue_sid,
                                              "QueueTime": queue_time})
