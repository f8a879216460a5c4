"""The simulator's call engine: plays Twilio's part against a real app over HTTP.

It POSTs signed webhooks with Twilio's parameter names, runs the TwiML it gets back verb by
verb, and ends the call exactly where Twilio would (a document that runs out of verbs hangs
up). Callers plug in through madoguchi.telephony.caller.Caller.
"""

from __future__ import annotations

import contextlib
import logging
import random
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urlencode, urljoin, urlsplit

import requests
from twilio.request_validator import RequestValidator

from madoguchi import phone
from madoguchi.telephony import twiml_reader as twiml
from madoguchi.telephony.caller import (
    Caller,
    HangUp,
    LineEvent,
    Moment,
    Press,
    Speak,
    Wait,
)
from madoguchi.telephony.clock import Clock, VirtualClock
from madoguchi.telephony.network import (
    Control,
    QueueStanding,
    SimulatedCall,
    SimulatedNetwork,
    SimulatedRecording,
    new_sid,
)
from madoguchi.telephony.twiml_reader import TwimlError, Verb

log = logging.getLogger(__name__)

WITHHELD_CALLER_ID = "+266696687"
API_VERSION = "2010-04-01"
# Twilio's own limits: 15 s per webhook, 4 hours per call, queues of at most 1000 by default.
REQUEST_TIMEOUT_SECONDS = 15.0
MAX_CALL_SECONDS = 4 * 3600
DEFAULT_MAX_QUEUE_SIZE = 1000
# Twilio's error codes for webhooks it could not use.
HTTP_RETRIEVAL_FAILURE = 11200
HTTP_CONNECTION_FAILURE = 11205
INVALID_CONTENT_TYPE = 12300
# How long the default hold music plays between queue updates without a waitUrl.
HOLD_MUSIC_SECONDS = 30
# A bridged caller who stays silent lets this much time pass per moment.
BRIDGED_WAIT_SECONDS = 10
TWIML_TYPES = ("text/xml", "application/xml", "text/html")
STATUS_EVENTS = {"initiated": "queued", "ringing": "ringing", "answered": "in-progress"}


@dataclass(frozen=True)
class CallSetup:
    """What the network knows when a call starts."""

    url: str
    from_number: str = WITHHELD_CALLER_ID
    to_number: str = ""
    direction: str = "inbound"
    call_sid: str = field(default_factory=lambda: new_sid("CA"))
    method: str = "POST"
    fallback_url: str = ""
    status_callback: str = ""
    status_events: tuple[str, ...] = ("completed",)
    answered_by: str = ""


@dataclass(frozen=True)
class WebhookRequest:
    """One request the network made to the app, and how it was answered."""

    method: str
    url: str
    params: dict[str, str]
    status: int | None


@dataclass
class CallResult:
    """How a simulated call went."""

    call_sid: str
    status: str = "completed"
    ended_by: str = ""
    error_code: int | None = None
    error_message: str = ""
    duration_seconds: int = 0
    heard: list[LineEvent] = field(default_factory=list)
    requests: list[WebhookRequest] = field(default_factory=list)

    @property
    def spoken(self) -> str:
        """Everything the line said, one event per line."""
        return "\n".join(event.text for event in self.heard if event.kind == "say")


class CallEnded(Exception):
    """The call is over; ended_by says who ended it."""

    def __init__(self, ended_by: str, status: str = "completed") -> None:
        super().__init__(ended_by)
        self.ended_by = ended_by
        self.status = status


class _Jump(Exception):
    """Fetch the next document from url (Redirect, a verb's action, a live redirect)."""

    def __init__(
        self, url: str, method: str = "POST", params: dict[str, str] | None = None,
        *, live: bool = False,
    ) -> None:
        super().__init__(url)
        self.url = url
        self.method = method.upper() or "POST"
        self.params = params or {}
        self.live = live


class _Leave(Exception):
    """<Leave> inside a queue's wait music."""


class _DialEnded(Exception):
    """The operator's side of a <Dial> hung up."""


@dataclass(frozen=True)
class _DialedLeg:
    """The call a <Dial> places to the other party: its sid and the noun it dialled."""

    sid: str
    noun: Verb


class _FetchFailed(Exception):
    """A webhook gave nothing runnable; code and message are Twilio's."""

    def __init__(self, code: int, message: str, url: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.url = url


class CallEngine:
    """Runs simulated calls against an app: configure once, then run(setup, caller)."""

    def __init__(
        self,
        auth_token: str,
        *,
        clock: Clock | None = None,
        network: SimulatedNetwork | None = None,
        http: requests.Session | None = None,
        account_sid: str = "AC" + "0" * 32,
        max_requests: int = 500,
        status_callbacks_shuffled: bool = False,
        max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE,
    ) -> None:
        self.validator = RequestValidator(auth_token)
        self.clock = clock or VirtualClock()
        self.network = network
        self.http = http or requests.Session()
        self.account_sid = account_sid
        self.max_requests = max_requests
        self.status_callbacks_shuffled = status_callbacks_shuffled
        self.max_queue_size = max_queue_size

    def run(self, setup: CallSetup, caller: Caller) -> CallResult:
        """Play one whole call; return when it has ended."""
        return _CallRun(self, setup, caller).run()

    def unanswered(self, setup: CallSetup, status: str, *, ring_seconds: int) -> CallResult:
        """An outbound call that was busy or rang out: only its status callback is sent."""
        run = _CallRun(self, setup, _Nobody())
        if status == "no-answer":
            self.clock.wait(ring_seconds, lambda: False)
        run.result.status = status
        run.result.ended_by = status
        if self.network is not None:
            self.network.set_status(setup.call_sid, status)
        run.send_status_callbacks()
        return run.result

    def sign(self, url: str, params: dict[str, str]) -> str:
        """The X-Twilio-Signature Twilio would send for this request."""
        return self.validator.compute_signature(url, params)


class _Nobody:
    """The caller of a call nobody answered."""

    def hear(self, event: LineEvent) -> None:
        """Nobody hears anything."""

    def act(self, moment: Moment) -> None:
        """Nobody does anything."""


class _CallRun:
    """The state of one call while the engine plays it."""

    def __init__(self, engine: CallEngine, setup: CallSetup, caller: Caller) -> None:
        self.engine = engine
        self.setup = setup
        self.caller = caller
        self.result = CallResult(call_sid=setup.call_sid)
        self.started = engine.clock.now()
        self.current_url = setup.url
        self.status = "ringing" if setup.direction == "inbound" else "in-progress"
        self.pending: Control | None = None
        # Keys pressed after a one-key question was answered: a <Gather> that starts listening
        # straight away still hears them (a "*1" on a pulse phone), anything else loses them.
        self.typeahead = ""

    # --- the call ----------------------------------------------------------------------
    def run(self) -> CallResult:
        """Fetch the first document and follow the call to its end."""
        network = self.engine.network
        if network is not None:
            self._register(network)
        log.info("simulated call %s from %s started", self.setup.call_sid,
                 phone.mask(self.setup.from_number))
        try:
            verbs = self._load_or_fallback(self.setup.url, self.setup.method, {})
            self.status = "in-progress"
            while True:
                try:
                    self._run_verbs(verbs, in_queue=False)
                    self._tell("notice", "the app sent no further instructions: the call ends")
                    raise CallEnded("no-more-verbs")
                except _Jump as jump:
                    verbs = self._load_or_fallback(jump.url, jump.method, jump.params)
                except _FetchFailed as failure:
                    verbs = self._fallback(failure, {})
        except CallEnded as end:
            self.result.ended_by = end.ended_by
            self.result.status = end.status
        except KeyboardInterrupt:
            self.result.ended_by = "caller"
        self.result.duration_seconds = int(self.engine.clock.now() - self.started)
        self._tell("notice", f"call ended ({self.result.ended_by})")
        if network is not None:
            network.set_status(self.setup.call_sid, self.result.status)
        self.send_status_callbacks()
        return self.result

    def _register(self, network: SimulatedNetwork) -> None:
        """Make the call visible to other processes (console, queue) as live."""
        call = network.get_call(self.setup.call_sid) or SimulatedCall(
            sid=self.setup.call_sid, direction=self.setup.direction,
            from_number=self.setup.from_number, to_number=self.setup.to_number,
            url=self.setup.url,
        )
        call.status = "in-progress"
        network.save_call(call)

    def _end_with_error(self, failure: _FetchFailed) -> None:
        self.result.error_code = failure.code
        self.result.error_message = failure.message
        log.warning("simulated call %s: application error %s", self.setup.call_sid, failure)
        self._tell("error", f"application error {failure.code}: {failure.message}")
        self._tell("say", "We are sorry, an application error has occurred. Goodbye.")
        raise CallEnded("error", "failed" if self.status == "ringing" else "completed")

    def _load_or_fallback(self, url: str, method: str, params: dict[str, str]) -> list[Verb]:
        try:
            return self._load(url, method, params)
        except _FetchFailed as failure:
            return self._fallback(failure, params)

    def _fallback(self, failure: _FetchFailed, params: dict[str, str]) -> list[Verb]:
        """The Fallback URL's document after an application error, else the call ends."""
        if not self.setup.fallback_url:
            self._end_with_error(failure)
        extra = {"ErrorCode": str(failure.code), "ErrorUrl": failure.url}
        try:
            return self._load(self.setup.fallback_url, "POST", {**params, **extra})
        except _FetchFailed as second:
            self._end_with_error(second)
        raise AssertionError("unreachable: _end_with_error always raises")

    # --- HTTP --------------------------------------------------------------------------
    def call_params(self) -> dict[str, str]:
        """The parameters Twilio sends with every webhook of this call."""
        setup = self.setup
        params = {
            "AccountSid": self.engine.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": setup.call_sid,
            "CallStatus": self.status,
            "Direction": setup.direction,
            "From": setup.from_number,
            "To": setup.to_number,
            "Caller": setup.from_number,
            "Called": setup.to_number,
        }
        if setup.answered_by:
            params["AnsweredBy"] = setup.answered_by
        return params

    def _request(self, url: str, method: str, params: dict[str, str]) -> requests.Response:
        if len(self.result.requests) >= self.engine.max_requests:
            self._tell("error", f"more than {self.engine.max_requests} webhook requests")
            raise CallEnded("request-limit")
        url = urljoin(self.current_url, url)
        method = method.upper()
        headers = {"User-Agent": "TwilioProxy/1.1 (Madoguchi simulator)"}
        try:
            if method == "GET":
                separator = "&" if urlsplit(url).query else "?"
                full = f"{url}{separator}{urlencode(params)}" if params else url
                headers["X-Twilio-Signature"] = self.engine.sign(full, {})
                response = self.engine.http.get(full, headers=headers,
                                                timeout=REQUEST_TIMEOUT_SECONDS)
            else:
                headers["X-Twilio-Signature"] = self.engine.sign(url, params)
                response = self.engine.http.post(url, data=params, headers=headers,
                                                 timeout=REQUEST_TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            self.result.requests.append(WebhookRequest(method, url, params, None))
            raise _FetchFailed(HTTP_CONNECTION_FAILURE,
                               f"could not reach {url} ({type(exc).__name__})", url) from None
        self.result.requests.append(WebhookRequest(method, url, params, response.status_code))
        return response

    def _load(self, url: str, method: str, extra: dict[str, str]) -> list[Verb]:
        """Request a TwiML document and parse it; raise _FetchFailed when it is unusable."""
        url = urljoin(self.current_url, url)
        response = self._request(url, method, {**self.call_params(), **extra})
        if response.status_code >= 400:
            raise _FetchFailed(HTTP_RETRIEVAL_FAILURE, f"HTTP {response.status_code} from {url}",
                               url)
        self.current_url = url
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type == "text/plain":
            return [Verb("Say", text=response.text.strip())]
        if content_type.startswith("audio/"):
            return [Verb("Play", text=url)]
        if content_type not in TWIML_TYPES:
            raise _FetchFailed(INVALID_CONTENT_TYPE,
                               f"Content-Type {content_type or '(none)'} is not TwiML", url)
        try:
            return twiml.parse(response.content)
        except TwimlError as exc:
            raise _FetchFailed(exc.code, exc.message, url) from None

    # --- talking to the caller ------------------------------------------------------------
    def _tell(self, kind: str, text: str = "", seconds: float = 0.0) -> None:
        event = LineEvent(kind, text, seconds)
        self.result.heard.append(event)
        self.caller.hear(event)

    def _control_pending(self) -> bool:
        if self.pending is None and self.engine.network is not None:
            self.pending = self.engine.network.take_control(self.setup.call_sid)
        return self.pending is not None

    def _obey_control(self) -> None:
        """Act on an instruction sent from outside the call (live redirect or hang-up)."""
        if not self._control_pending():
            return
        control, self.pending = self.pending, None
        assert control is not None
        if control.action == "hangup":
            self._tell("notice", "the other side hung up")
            raise CallEnded("remote")
        if control.action == "redirect":
            raise _Jump(control.url, "POST", live=True)
        if control.action == "end-dial":
            raise _DialEnded

    def _pass_time(self, seconds: float) -> None:
        self.engine.clock.wait(seconds, self._control_pending)
        if self.engine.clock.now() - self.started > MAX_CALL_SECONDS:
            self._tell("notice", "the call reached the 4-hour limit")
            raise CallEnded("time-limit")

    def _moment(self, moment: Moment):
        """Ask the caller what they do now, after obeying any outside instruction."""
        self._obey_control()
        if self.typeahead:
            keys, self.typeahead = self.typeahead, ""
            if moment.kind == "gather" and moment.accepts_keys:
                return Press(keys)
            self._tell("notice", f"keys {keys} pressed while nobody listens: lost")
        action = self.caller.act(moment)
        if isinstance(action, HangUp):
            raise CallEnded("caller")
        if not moment.listening and isinstance(action, Press):
            self._tell("notice", f"keys {action.keys} pressed while nobody listens: lost")
        return action

    # --- verbs -------------------------------------------------------------------------
    def _run_verbs(self, verbs: list[Verb], *, in_queue: bool) -> None:
        for verb in verbs:
            self._obey_control()
            getattr(self, f"_verb_{verb.name.lower()}")(verb, in_queue)

    def _speak(self, verb: Verb) -> None:
        if verb.name == "Say":
            times = verb.int_attr("loop", 1) or 1
            for _ in range(times):
                self._tell("say", verb.text, _speaking_seconds(verb.text))
                self._pass_time(_speaking_seconds(verb.text))
        elif verb.name == "Play":
            if verb.attr("digits"):
                self._tell("play", f"(tones {verb.attr('digits')})")
            else:
                name = urlsplit(verb.text).path.rsplit("/", 1)[-1] or verb.text
                for _ in range(verb.int_attr("loop", 1) or 1):
                    self._tell("play", f"(audio {name})", 5)
                    self._pass_time(5)
        elif verb.name == "Pause":
            seconds = verb.int_attr("length", 1)
            self._tell("pause", "…", seconds)
            self._pass_time(seconds)

    def _verb_say(self, verb: Verb, in_queue: bool) -> None:
        self._speak(verb)
        self._moment(Moment("line"))

    _verb_play = _verb_say
    _verb_pause = _verb_say

    def _verb_hangup(self, verb: Verb, in_queue: bool) -> None:
        raise CallEnded("twiml")

    def _verb_reject(self, verb: Verb, in_queue: bool) -> None:
        raise CallEnded("twiml", "busy" if verb.attr("reason") == "busy" else "no-answer")

    def _verb_redirect(self, verb: Verb, in_queue: bool) -> None:
        if not verb.text:
            raise _FetchFailed(twiml.SCHEMA_VIOLATION, "<Redirect> needs a URL", self.current_url)
        raise _Jump(verb.text, verb.attr("method", "POST"))

    def _verb_leave(self, verb: Verb, in_queue: bool) -> None:
        if in_queue:
            raise _Leave
        self._tell("notice", "<Leave> outside a queue does nothing")

    def _verb_gather(self, verb: Verb, in_queue: bool) -> None:
        modes = verb.attr("input", "dtmf").split()
        timeout = verb.int_attr("timeout", 5)
        num_digits = verb.int_attr("numDigits", 0) or None
        finish_key = verb.attr("finishOnKey", "#")
        for child in verb.children:
            self._speak(child)
        moment = Moment("gather", True, timeout, num_digits, "dtmf" in modes, "speech" in modes,
                        verb.attr("language", "en-US"))
        action = self._moment(moment)
        params: dict[str, str] = {}
        if isinstance(action, Press) and "dtmf" in modes:
            digits, finished = _collect_digits(action.keys, num_digits, finish_key)
            if finished is None and num_digits is not None:
                self.typeahead = action.keys[len(digits):]
            if finished is None and (num_digits is None or len(digits) < num_digits):
                self._pass_time(timeout)  # the caller stopped pressing: Twilio waits it out
            params["Digits"] = digits
            params["FinishedOnKey"] = finished or ""
            empty = digits == ""
        elif isinstance(action, Speak) and "speech" in modes and action.text.strip():
            params["SpeechResult"] = action.text.strip()
            params["Confidence"] = "0.9"
            empty = False
        else:
            if isinstance(action, Press | Speak):
                self._tell("notice", "this question does not take that kind of answer")
            waited = action.waited_seconds if isinstance(action, Wait) else 0.0
            self._pass_time(max(timeout - waited, 0))
            params["Digits"] = ""
            empty = True
        if empty and not verb.flag("actionOnEmptyResult"):
            self._tell("notice", "no input: the line goes on to the next instruction")
            return
        raise _Jump(verb.attr("action") or self.current_url, verb.attr("method", "POST"), params)

    def _verb_record(self, verb: Verb, in_queue: bool) -> None:
        if verb.attr("playBeep", "true") != "false":
            self._tell("record", "(beep) recording…")
        timeout = verb.int_attr("timeout", 5)
        action = self._moment(Moment("record", True, timeout, None, True, True))
        if not isinstance(action, Speak) or not action.text.strip():
            self._pass_time(timeout)
            self._tell("notice", "nothing was recorded: the line goes on")
            return
        seconds = max(1, int(_speaking_seconds(action.text)))
        self._pass_time(seconds + timeout)
        recording = SimulatedRecording(
            sid=new_sid("RE"), call_sid=self.setup.call_sid, from_number=self.setup.from_number,
            seconds=min(seconds, verb.int_attr("maxLength", 3600)), created_at=time.time(),
            to_number=self.setup.to_number)
        if self.engine.network is not None:
            self.engine.network.keep_recording(recording)
        params = {
            "RecordingSid": recording.sid,
            "RecordingUrl": recording.url,
            "RecordingDuration": str(recording.seconds),
        }
        raise _Jump(verb.attr("action") or self.current_url, verb.attr("method", "POST"), params)

    def _verb_dial(self, verb: Verb, in_queue: bool) -> None:
        targets = [f"{child.name.lower()} {child.text}" for child in verb.children] or [verb.text]
        target = ", ".join(targets)
        self._tell("dial", f"connecting to {target}")
        network = self.engine.network
        if network is not None:
            network.set_status(self.setup.call_sid, "in-progress", bridged_to=target)
        started = self.engine.clock.now()
        limit = verb.int_attr("timeLimit", MAX_CALL_SECONDS)
        leg = _DialedLeg(new_sid("CA"), verb.children[0] if verb.children else verb)
        try:
            while self.engine.clock.now() - started < limit:
                action = self._moment(Moment("bridged"))
                if isinstance(action, Speak) and network is not None:
                    network.say_to_operator(self.setup.call_sid, action.text)
                self._pass_time(BRIDGED_WAIT_SECONDS)
        except _DialEnded:
            self._tell("notice", "the operator ended the call")
        except CallEnded:
            # Either the caller hung up or the call was ended from outside: as Twilio does, the
            # dialled leg ends with it, its status is reported, and the Dial action is still
            # requested (its answer is not run: nobody is left to hear it).
            self._end_dial(verb, leg, started)
            raise
        if network is not None:
            network.set_status(self.setup.call_sid, "in-progress", bridged_to="")
        self._send_leg_status(leg, int(self.engine.clock.now() - started))
        if verb.attr("action"):
            raise _Jump(verb.attr("action"), verb.attr("method", "POST"),
                        self._dial_result(leg, started))

    def _dial_result(self, leg: _DialedLeg, started: float) -> dict[str, str]:
        return {"DialCallStatus": "completed",
                "DialCallDuration": str(int(self.engine.clock.now() - started)),
                "DialCallSid": leg.sid}

    def _end_dial(self, verb: Verb, leg: _DialedLeg, started: float) -> None:
        """The caller's side ended during a Dial: report the leg and request the action."""
        network = self.engine.network
        if network is not None:
            network.set_status(self.setup.call_sid, "in-progress", bridged_to="")
        self._send_leg_status(leg, int(self.engine.clock.now() - started))
        if not verb.attr("action"):
            return
        self.status = "completed"
        with contextlib.suppress(_FetchFailed, CallEnded):
            action_url = urljoin(self.current_url, verb.attr("action"))
            self._request(action_url, verb.attr("method", "POST"),
                          {**self.call_params(), **self._dial_result(leg, started)})

    def _send_leg_status(self, leg: _DialedLeg, duration: int) -> None:
        """The dialled leg's final status to the statusCallback of its noun, if it has one."""
        url = leg.noun.attr("statusCallback")
        events = leg.noun.attr("statusCallbackEvent", "completed").split()
        if not url or "completed" not in events:
            return
        target = leg.noun.text
        params = {
            "AccountSid": self.engine.account_sid, "ApiVersion": API_VERSION,
            "CallSid": leg.sid, "ParentCallSid": self.setup.call_sid,
            "CallStatus": "completed", "Direction": "outbound-dial",
            "From": self.setup.from_number,
            "To": f"client:{target}" if leg.noun.name == "Client" else target,
            "CallDuration": str(duration), "SequenceNumber": "0",
            "CallbackSource": "call-progress-events",
            "Timestamp": format_datetime(datetime.now(UTC), usegmt=True),
        }
        try:
            self._request(urljoin(self.current_url, url),
                          leg.noun.attr("statusCallbackMethod", "POST"), params)
        except (_FetchFailed, CallEnded) as exc:
            log.warning("leg status callback for %s failed: %s", leg.sid, exc)

    def _verb_enqueue(self, verb: Verb, in_queue: bool) -> None:
        name = verb.text or "default"
        queue_sid = "QU" + secrets.token_hex(16)
        result, queued_at = self._wait_in_queue(verb, name, queue_sid)
        if verb.attr("action"):
            params = {"QueueResult": result, "QueueSid": queue_sid,
                      "QueueTime": str(int(self.engine.clock.now() - queued_at))}
            if result == "hangup":
                # The caller has gone; Twilio still reports the result, and the answer is moot.
                self.status = "completed"
                with contextlib.suppress(_FetchFailed, CallEnded):
                    action_url = urljoin(self.current_url, verb.attr("action"))
                    self._request(action_url, verb.attr("method", "POST"),
                                  {**self.call_params(), **params})
                raise CallEnded("caller")
            raise _Jump(verb.attr("action"), verb.attr("method", "POST"), params)
        if result == "hangup":
            raise CallEnded("caller")

    def _wait_in_queue(self, verb: Verb, name: str, queue_sid: str) -> tuple[str, float]:
        network = self.engine.network
        sid = self.setup.call_sid
        queued_at = self.engine.clock.now()
        if network is not None:
            if network.queue_size(name) >= self.engine.max_queue_size:
                return "queue-full", queued_at
            network.join_queue(name, sid)
        self._tell("hold", f"waiting in queue {name}")
        wait_url = verb.attr("waitUrl")
        wait_method = verb.attr("waitUrlMethod", "POST")
        try:
            next_url = wait_url
            answer: dict[str, str] = {}  # a Gather's result inside the wait music
            while True:
                waited = int(self.engine.clock.now() - queued_at)
                if network is not None:
                    standing = network.report_wait(name, sid, waited)
                else:
                    standing = QueueStanding(1, 1, waited)
                if not next_url:
                    self._tell("play", "(hold music)", HOLD_MUSIC_SECONDS)
                    self._pass_time(HOLD_MUSIC_SECONDS)
                    self._moment(Moment("hold"))
                    continue
                params = {
                    "QueueSid": queue_sid, "QueuePosition": str(standing.position),
                    "QueueTime": str(waited), "AvgQueueTime": str(standing.average_wait_seconds),
                    "CurrentQueueSize": str(standing.size),
                    "MaxQueueSize": str(self.engine.max_queue_size),
                    **answer,
                }
                verbs = self._load(next_url, wait_method, params)
                for wait_verb in verbs:
                    if wait_verb.name not in ("Play", "Say", "Pause", "Hangup", "Redirect",
                                              "Leave", "Gather"):
                        raise _FetchFailed(twiml.SCHEMA_VIOLATION,
                                           f"<{wait_verb.name}> is not allowed in a waitUrl",
                                           next_url)
                try:
                    self._run_verbs(verbs, in_queue=True)
                    next_url, answer = wait_url, {}  # verbs ran out: Twilio asks again
                except _Jump as jump:
                    if jump.live:
                        raise
                    next_url, wait_method, answer = jump.url, jump.method, jump.params
                self._moment(Moment("hold"))
        except _Leave:
            return "leave", queued_at
        except _FetchFailed as failure:
            self._tell("error", f"wait music failed: {failure.message}")
            return "error", queued_at
        except CallEnded as end:
            if end.ended_by == "caller":
                return "hangup", queued_at
            raise
        finally:
            if network is not None:
                network.leave_queue(name, sid)

    # --- after the call ----------------------------------------------------------------
    def send_status_callbacks(self) -> None:
        """Status callbacks, each with its SequenceNumber; shuffled when configured."""
        url = self.setup.status_callback
        if not url:
            return
        callbacks = list(self._status_callbacks())
        if self.engine.status_callbacks_shuffled:
            random.shuffle(callbacks)
        for params in callbacks:
            try:
                self._request(url, "POST", params)
            except (_FetchFailed, CallEnded) as exc:
                log.warning("status callback for %s failed: %s", self.setup.call_sid, exc)

    def _status_callbacks(self) -> Iterator[dict[str, str]]:
        timestamp = format_datetime(datetime.now(UTC), usegmt=True)
        for number, event in enumerate(self.setup.status_events):
            params = self.call_params()
            params.update(CallStatus=STATUS_EVENTS.get(event, self.result.status),
                          SequenceNumber=str(number), Timestamp=timestamp,
                          CallbackSource="call-progress-events")
            if event == "completed":
                params["CallDuration"] = str(self.result.duration_seconds)
                if self.result.error_code:
                    params["ErrorCode"] = str(self.result.error_code)
            yield params


def _collect_digits(keys: str, num_digits: int | None, finish_key: str) -> tuple[str, str | None]:
    """The Digits Twilio reports for these key presses, and the finishing key if pressed."""
    digits = ""
    for key in keys:
        if finish_key and key in finish_key:
            return digits, key
        digits += key
        if num_digits is not None and len(digits) >= num_digits:
            break
    return digits, None


def _speaking_seconds(text: str) -> float:
    """Roughly how long a sentence takes to say (Japanese ~7 characters a second)."""
    return max(1.0, len(text) / 7)
