"""Give free operators the next party in line: take a holder off hold, or start a callback.

The board says who is free (Redis, atomic across processes); the line says who is next (the
database, conditional claims). A holder is redirected to the bridge TwiML that dials the
operator; a callback gets an RQ job for its next attempt. A holder who hung up a moment ago is
marked gone and the operator takes the next party instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from call_queue import line, operator_states
from call_queue.operators import OperatorBoard
from madoguchi.events import notify_line_changed
from madoguchi.models import Call, CallbackRequest
from madoguchi.telephony.base import Telephony, TelephonyError

log = logging.getLogger(__name__)

# Enough for any realistic burst of free operators; stops a bug from looping forever.
MAX_ASSIGNMENTS_PER_RUN = 100


@dataclass(frozen=True)
class Assignment:
    """An operator given a party: a holder put through or a callback attempt started."""

    operator_id: int
    party: line.Party
    attempt_no: int | None = None


@dataclass
class Dispatcher:
    """What dispatching needs: the database, the board, the phone network, the job queue."""

    session: Session
    board: OperatorBoard
    telephony: Telephony
    public_base_url: str
    enqueue_attempt: Callable[[int, int], None]

    def bridge_url(self, call_id: int) -> str:
        """Where a holder's call goes when an operator takes it."""
        return f"{self.public_base_url}/voice/queue/bridge?call={call_id}"

    def run(self, now: datetime) -> list[Assignment]:
        """Match free operators with waiting parties until one side runs out."""
        operator_states.ensure_board(self.session, self.board)
        done: list[Assignment] = []
        for _ in range(MAX_ASSIGNMENTS_PER_RUN):
            free = self.board.available_ids(now)
            if not free or not line.waiting_parties(self.session, now):
                break
            idle_since = self.board.get(free[0]).since
            operator_id = self.board.claim_next_available(now)
            if operator_id is None:
                break
            party = line.claim_next(self.session, operator_id, now)
            if party is None:
                # Someone else took the last party: the operator keeps their place as idle.
                self.board.set_state(operator_id, "available", idle_since)
                break
            operator_states.persist_state(self.session, operator_id, "on_call", now)
            assignment = self._hand_over(operator_id, party, now)
            if assignment is None:
                operator_states.set_state(self.session, self.board, operator_id, "available",
                                   idle_since)
                continue
            done.append(assignment)
        self.session.commit()  # end the read transaction: SQLite holds its lock until then
        if done:
            notify_line_changed(self.board.redis)
        return done

    def hand_over(self, operator_id: int, party: line.Party, now: datetime) -> Assignment | None:
        """Put a claimed party through to the operator; None when a holder has already gone."""
        return self._hand_over(operator_id, party, now)

    def _hand_over(self, operator_id: int, party: line.Party, now: datetime) -> Assignment | None:
        if party.kind == "holding":
            return self._put_through(operator_id, party, now)
        return self._start_callback(operator_id, party, now)

    def _put_through(self, operator_id: int, party: line.Party,
                     now: datetime) -> Assignment | None:
        call = self.session.get(Call, party.id)
        assert call is not None
        try:
            self.telephony.redirect_call(call.call_sid, self.bridge_url(call.id))
        except TelephonyError as exc:
            # The caller hung up between the claim and the redirect: they have left the line.
            log.info("holder %s could not be taken off hold: %s", call.call_sid, exc)
            self.session.execute(
                update(Call).where(Call.id == call.id)
                .values(operator_id=None, ended_at=call.ended_at or now,
                        outcome="abandoned")
                .execution_options(synchronize_session=False)
            )
            self.session.commit()
            return None
        log.info("operator %d takes holder call %d", operator_id, call.id)
        return Assignment(operator_id, party)

    def _start_callback(self, operator_id: int, party: line.Party,
                        now: datetime) -> Assignment:
        request = self.session.get(CallbackRequest, party.id)
        assert request is not None
        self.session.refresh(request)
        request.attempts += 1
        request.updated_at = now
        attempt_no = request.attempts
        self.session.commit()
        try:
            self.enqueue_attempt(request.id, attempt_no)
        except Exception:
            # Redis is down: the periodic sweep enqueues the attempt once it is back.
            log.exception("callback %d attempt %d not enqueued; the sweep will retry",
                          request.id, attempt_no)
        log.info("operator %d takes callback %d (attempt %d)", operator_id, request.id,
                 attempt_no)
        return Assignment(operator_id, party, attempt_no)
