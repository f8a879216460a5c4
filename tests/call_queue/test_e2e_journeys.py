"""Whole journeys through the line: the phone simulator calls a real server process, a real
`madoguchi worker` places the callbacks, on the test database and Redis.

The server and worker run with a config whose delays are a second or so (wrap-up, retry pause),
so each journey takes seconds. Callers who hold or talk to an operator run in their own threads
and wait in real time; the test is the operator, made available through call_queue.line_services and
ending their calls through the simulated network.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from call_queue import line_services, operator_states
from madoguchi.models import Call, CallbackAttempt, CallbackRequest, Inquiry, utcnow
from madoguchi.sealing import blind
from madoguchi.telephony.caller import HangUp, Moment, Wait
from madoguchi.telephony.clock import VirtualClock
from madoguchi.telephony.engine import CallEngine, CallResult, CallSetup
from madoguchi.telephony.network import SimulatedCall, SimulatedNetwork
from madoguchi.telephony.outbound import answer_call
from madoguchi.telephony.script import ScriptCaller, parse_script
from tests import factories
from tests.conftest import ROOT, TEST_AUTH_TOKEN
from tests.faults.processes import WebProcess, WorkerProcess, wait_until
from tests.madoguchi.telephony.journeys import hold_then_callback
from tests.madoguchi.telephony.live_server import free_port

CITY_NUMBER = "+81312345678"
MOBILE = "+819012345678"
QUICK_QUEUE = {"wrap_up_seconds": "1", "callback_retry_minutes": "0.02",
               "callback_max_attempts": "2"}
# Real seconds a journey may take before the test gives up on it.
JOURNEY_SECONDS = 60


def quick_config(folder: Path) -> Path:
    """config.toml with the line's delays cut to about a second."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    for name, value in QUICK_QUEUE.items():
        text, found = re.subn(rf"(?m)^{name} = .*$", f"{name} = {value}", text)
        assert found == 1, f"config.toml has no [queue] {name}"
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def line_env(base_env, engine, tmp_path_factory) -> Iterator[dict[str, str]]:
    """A web server process on the quick config; yields the environment it runs with."""
    port = free_port()
    env = {**os.environ, **base_env,
           "MADOGUCHI_CONFIG": str(quick_config(tmp_path_factory.mktemp("quick-line"))),
           "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    web = WebProcess(env, port=port)
    web.start()
    try:
        yield env
    finally:
        web.stop()


@pytest.fixture
def worker(line_env, redis_client) -> Iterator[WorkerProcess]:
    """A real `madoguchi worker` (with RQ's scheduler) for one test, on a flushed Redis."""
    process = WorkerProcess(line_env)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def operator(app, committed_db) -> Iterator[tuple]:
    """One operator (busy on another call to begin with) and a committed session."""
    session = committed_db()
    with app.app_context():
        operator_id = factories.operator(session).id
        session.commit()
        operator_states.set_state(session, line_services.board(), operator_id, "on_call", utcnow())
        try:
            yield operator_id, session
        finally:
            session.close()


class PatientCaller(ScriptCaller):
    """A scripted caller who holds and talks in real time, for as long as a journey may take."""

    def __init__(self, script: str) -> None:
        super().__init__(parse_script(script))
        self.deadline = time.monotonic() + JOURNEY_SECONDS

    def act(self, moment: Moment):
        """Sit through hold (and its callback offers) and a bridged call at a human pace."""
        self._meet_expectations()
        waiting = bool(self.steps) and self.steps[0].action == "expect"
        if moment.kind in ("hold", "bridged") or (moment.kind == "gather" and waiting):
            if time.monotonic() > self.deadline and not self.failure:
                self.failure = f"still waiting for {self.steps[:1]} after {JOURNEY_SECONDS} s"
                return HangUp()
            self.idle_holds = 0
            time.sleep(0.05)
            if moment.kind == "gather":
                return Wait()  # the offer in the hold music: let it pass, keep holding
        return super().act(moment)

    def said(self, words: str) -> bool:
        """True once the line has said these words."""
        return any(words in event.text for event in self.heard)


@dataclass
class Phone:
    """A caller's call running in its own thread."""

    caller: PatientCaller
    sid: str
    thread: threading.Thread | None = None
    result: CallResult | None = None

    def start(self, engine: CallEngine, setup: CallSetup) -> None:
        """Dial, and follow the script in a thread of its own."""

        def run() -> None:
            self.result = engine.run(setup, self.caller)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def finish(self) -> CallResult:
        """Wait for the call to end; the script must have been followed to the end."""
        assert self.thread is not None, "the call was never started"
        self.thread.join(JOURNEY_SECONDS)
        assert not self.thread.is_alive(), "the call did not end"
        self.caller.call_ended()
        assert self.caller.failure is None, f"{self.caller.failure}\n{self.spoken()}"
        assert self.result is not None
        return self.result

    def spoken(self) -> str:
        """Everything the caller heard."""
        return "\n".join(event.text for event in self.caller.heard)


def _engine(network: SimulatedNetwork) -> CallEngine:
    return CallEngine(TEST_AUTH_TOKEN, clock=VirtualClock(), network=network)


def call_in(env: dict[str, str], network: SimulatedNetwork, number: str, script: str) -> Phone:
    """Start a call to the city from `number` following `script`, in a thread."""
    base = env["PUBLIC_BASE_URL"]
    setup = CallSetup(url=f"{base}/voice/incoming", from_number=number, to_number=CITY_NUMBER,
                      status_callback=f"{base}/voice/status")
    phone = Phone(PatientCaller(script), setup.call_sid)
    phone.start(_engine(network), setup)
    return phone


def ringing_to(network: SimulatedNetwork, number: str) -> SimulatedCall:
    """Pick up the callback ringing at this number once the worker has dialled it."""
    return wait_until(lambda: network.pick_up(number), JOURNEY_SECONDS,
                      f"a callback ringing at {number}")


def bridged(network: SimulatedNetwork, phone: Phone) -> bool:
    """True while the caller is talking to an operator."""
    call = network.get_call(phone.sid)
    return bool(call and call.bridged_to.startswith("client operator-"))


def answer(network: SimulatedNetwork, ringing: SimulatedCall, how: str) -> CallResult:
    """Answer a callback as the resident: a person who hears who calls, then hangs up."""
    person = ScriptCaller(parse_script("expect 折り返し\nhangup"))
    result = answer_call(_engine(network), ringing, how, person)
    if how == "human":
        person.call_ended()
        assert person.failure is None, result.spoken
    return result


def _call(session, sid: str) -> Call:
    call = session.scalar(select(Call).where(Call.call_sid == sid)
                          .execution_options(populate_existing=True))
    session.commit()
    return call


def _request(session, number: str) -> CallbackRequest:
    request = session.scalar(select(CallbackRequest).where(
        blind.matches(CallbackRequest.phone_digest, "phone", number))
                             .execution_options(populate_existing=True))
    session.commit()
    return request


def test_three_callers_one_operator_bridged_holding_and_called_back_in_order(
        line_env, worker, operator, redis_client):
    operator_id, session = operator
    network = SimulatedNetwork(redis_client)
    first_number, second_number, third_number = "+819011110001", "+819011110002", MOBILE

    line_services.operator_available(session, operator_id)
    first = call_in(line_env, network, first_number, """
        press 0
        expect お待たせいたしました
        expect お電話ありがとうございました
    """)
    wait_until(lambda: bridged(network, first), JOURNEY_SECONDS, "the first caller bridged")

    second = call_in(line_env, network, second_number, """
        press 0
        expect 1番目
        expect お待たせいたしました
        expect お電話ありがとうございました
    """)
    wait_until(lambda: second.caller.said("1番目"), JOURNEY_SECONDS, "the second hears 1st")
    third = call_in(line_env, network, third_number, hold_then_callback(place=2))
    third.finish()
    request = _request(session, third_number)
    assert request.status == "waiting"
    assert request.arrival_at > _call(session, second.sid).queued_at

    network.end_dial(first.sid)  # the operator finishes with the first caller
    first.finish()
    wait_until(lambda: bridged(network, second), JOURNEY_SECONDS,
               "the second caller bridged after the operator's wrap-up")
    assert network.ringing_calls() == []  # the callback waits its turn
    network.end_dial(second.sid)
    second.finish()

    answer(network, ringing_to(network, third_number), "human")
    wait_until(lambda: _request(session, third_number).status == "reached", JOURNEY_SECONDS,
               "the callback reached")
    [attempt] = session.scalars(select(CallbackAttempt)).all()
    session.commit()
    assert _call(session, first.sid).answered_at < _call(session, second.sid).answered_at
    assert _call(session, second.sid).answered_at < attempt.started_at
    assert {_call(session, p.sid).operator_id for p in (first, second)} == {operator_id}


def test_a_withheld_caller_keys_in_a_number_and_is_called_back_on_it(
        line_env, worker, operator, redis_client):
    operator_id, session = operator
    network = SimulatedNetwork(redis_client)
    caller = call_in(line_env, network, "anonymous", """
        press 0
        expect 1番目
        press 1
        expect 市外局番から
        press 09087654321#
        expect 8 7 6 5
        press 1
        expect できるだけ早く
        press 1
        expect 承りました
        hangup
    """)
    caller.finish()
    keyed = "+819087654321"
    assert _request(session, keyed).status == "waiting"

    line_services.operator_available(session, operator_id)
    ringing = ringing_to(network, keyed)
    assert ringing.to_number == keyed
    answer(network, ringing, "human")
    wait_until(lambda: _request(session, keyed).status == "reached", JOURNEY_SECONDS,
               "the callback on the keyed number reached")


def test_an_unanswered_callback_is_retried_then_reported_unreached_with_a_text_and_a_case(
        line_env, worker, operator, redis_client):
    operator_id, session = operator
    network = SimulatedNetwork(redis_client)
    caller = call_in(line_env, network, MOBILE, hold_then_callback())
    caller.finish()

    line_services.operator_available(session, operator_id)
    answer(network, ringing_to(network, MOBILE), "no-answer")
    answer(network, ringing_to(network, MOBILE), "busy")  # the retry, a second or so later
    wait_until(lambda: _request(session, MOBILE).status == "unreached", JOURNEY_SECONDS,
               "the callback reported unreached")
    request = _request(session, MOBILE)
    attempts = session.scalars(select(CallbackAttempt.status).where(
        CallbackAttempt.request_id == request.id).order_by(CallbackAttempt.attempt_no)).all()
    session.commit()
    assert attempts == ["no-answer", "busy"]
    case = wait_until(lambda: session.scalar(select(Inquiry).where(
        Inquiry.category == "callback")), JOURNEY_SECONDS, "a follow-up case")
    session.commit()
    assert case.contact_e164 == MOBILE
    texts = [sms.body for sms in network.messages(MOBILE)]
    assert any("承りました" in body for body in texts)  # the request confirmed
    assert any("つながりませんでした" in body for body in texts)  # and the give-up told
    assert line_services.board().get(operator_id).state == "available"
