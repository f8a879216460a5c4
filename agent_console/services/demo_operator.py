"""The demo's simulated operator: goes available, takes callers, talks a while and hangs up.

A newcomer running `madoguchi serve --demo` calls the line alone; without someone on duty,
pressing 0 only ever offers a callback. This operator works the line through the very services
the work screen uses (own state, the connected call, ending it, the wrap-up), so the caller
hears what a caller of a staffed line hears: the place in line, the wait, being put through,
and later the callbacks the operator makes.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_console.services import accounts, work_desk
from agent_console.services.actor import Actor
from agent_console.services.operator_line import OperatorLine, operator_line
from call_queue import line_services, operator_states, taking
from madoguchi.db import database, session_scope
from madoguchi.models import Operator, utcnow
from madoguchi.redis_conn import get_redis
from madoguchi.telephony import get_telephony

log = logging.getLogger(__name__)

USERNAME = "simulated-operator"
DISPLAY_NAME = "シミュレーション職員"
TALK_SECONDS = 60.0
# A person takes a moment to note what the call was about before the next one.
WRAP_SECONDS = 5.0
POLL_SECONDS = 1.0
NOTES = "デモの模擬オペレーターが対応しました"


def ensure_account(session: Session) -> Actor:
    """The simulated operator's account, created on first use (nobody can log in with it)."""
    operator = session.scalar(select(Operator).where(Operator.username == USERNAME))
    if operator is None:
        operator = accounts.create_operator(
            session, username=USERNAME, display_name=DISPLAY_NAME,
            password=secrets.token_urlsafe(32), role="operator")
    session.commit()
    return Actor(operator_id=operator.id, username=USERNAME, role="operator", ip="127.0.0.1")


@dataclass
class DemoOperator:
    """One simulated operator's habits and what they are doing now."""

    actor: Actor
    line: OperatorLine
    talk_seconds: float = TALK_SECONDS
    wrap_seconds: float = WRAP_SECONDS
    talking_since: dict[str, datetime] = field(default_factory=dict)

    def step(self, session: Session, now: datetime | None = None) -> str:
        """Do the next thing a diligent operator would; returns their state afterwards."""
        now = now or utcnow()
        operator_id = self.actor.operator_id
        state = work_desk.own_state(line_services.board(), operator_id, now, session)
        if state.state == "on_call":
            self._talk(session, now)
        elif state.state == "wrap_up":
            if (now - state.since).total_seconds() >= self.wrap_seconds:
                call = work_desk.call_to_wrap(session, operator_id)
                work_desk.save_wrap_up(session, self.actor, call.id if call else None,
                                       disposition="resolved", notes=NOTES, now=now)
                taking.set_own_state(session, operator_id, "available", now)
        elif state.state != "available":
            taking.set_own_state(session, operator_id, "available", now)
        return work_desk.own_state(line_services.board(), operator_id, utcnow(), session).state

    def _talk(self, session: Session, now: datetime) -> None:
        """Stay on the line for the talk time, then hang up as the End call button does."""
        connected = work_desk.connected(session, self.line, self.actor.operator_id)
        if connected is None or not connected.bridged or not connected.party.call_sid:
            return
        sid = connected.party.call_sid
        since = self.talking_since.setdefault(sid, now)
        if (now - since).total_seconds() >= self.talk_seconds:
            work_desk.end_call(session, self.line, self.actor)
            self.talking_since.pop(sid, None)

    def go_offline(self, session: Session) -> None:
        """Leave the line (the demo is stopping): nobody counts on this operator any more."""
        operator_states.ensure_board(session, line_services.board())
        taking.set_own_state(session, self.actor.operator_id, "offline")


class DemoOperatorThread:
    """Runs the simulated operator beside the web server until stopped."""

    def __init__(self, app: Flask, talk_seconds: float = TALK_SECONDS) -> None:
        self.app = app
        self.talk_seconds = talk_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-operator", daemon=True)
        self.operator: DemoOperator | None = None
        self.actor: Actor | None = None

    def start(self) -> None:
        """Create the account if needed and start working."""
        with self.app.app_context(), session_scope(database()) as session:
            self.actor = ensure_account(session)
        self._thread.start()
        log.info("the demo's simulated operator (%s) is on duty", USERNAME)

    def _run(self) -> None:
        assert self.actor is not None
        with self.app.app_context():
            line = operator_line(self.app.config["SETTINGS"], get_telephony(), get_redis())
            self.operator = DemoOperator(self.actor, line, talk_seconds=self.talk_seconds)
            while not self._stop.wait(POLL_SECONDS):
                try:
                    with session_scope(database()) as session:
                        self.operator.step(session)
                except Exception:
                    # A restarting database or Redis: the next round tries again.
                    log.exception("the demo's simulated operator stumbled; trying again")

    def stop(self) -> None:
        """Stop working and go offline."""
        self._stop.set()
        self._thread.join(timeout=10)
        if self.operator is None:
            return
        try:
            with self.app.app_context(), session_scope(database()) as session:
                self.operator.go_offline(session)
        except Exception:
            log.exception("the demo's simulated operator could not go offline")
