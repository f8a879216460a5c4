"""Give free operators the next party in line: take a holder off hold, or start a callback.

The board says who is free (Redis, atomic across processes); the line says who is next (the
database, conditional claims). A holder is redirected to the bridge TwiML that dials the
operator; a callback gets an RQ job for its next attempt. A holder who hung up a moment ago is
marked gone and the operator takes the next party instead. When the network fails to take a
holder off hold for any other reason (an overload, no answer in time), the holder keeps their
place, the operator is free again, and dispatching pauses a few seconds before it asks again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import update
from sqlalchemy.orm import Session

from call_queue import job_scheduling, line, operator_states
from call_queue.operators import OperatorBoard, OperatorState
from madoguchi import phone
from madoguchi.events import notify_line_changed
from madoguchi.models import Call, CallbackRequest, utcnow
from madoguchi.telephony.base import CallNotLive, Telephony, TelephonyError

log = logging.getLogger(__name__)

# Enough for any realistic burst of free operators; stops a bug from looping forever.
MAX_ASSIGNMENTS_PER_RUN = 100
# A run inside a webhook must leave it time to answer within Twilio's 15 s: no hand-over starts
# after this long; the next dispatch (the sweep's, at the latest) gives out the rest.
RUN_SECONDS = 3.0
# After the network failed to take a holder off hold, nobody asks it again for this long: in a
# spell of refusals every webhook that dispatches would otherwise send one more request.
PAUSE_SECONDS = 5
PAUSED_KEY = "line:dispatch:paused"


class ClaimSettled(Exception):
    """The holder's claim was settled elsewhere while the network's answer was awaited.

    They hung up, or went back to the line: that path freed the operator, so the operator's
    state is left as it is.
    """


def is_paused(redis: Redis) -> bool:
    """True while dispatching waits after the phone network failed to take a holder off hold."""
    return bool(redis.exists(PAUSED_KEY))


def pause(redis: Redis, reason: str) -> None:
    """Hold every dispatch for PAUSE_SECONDS: the phone network failed to put someone through.

    The worker dispatches again the moment it ends: the operator freed by the failure would
    otherwise wait for the next event, or the sweep, in a quiet spell.
    """
    log.warning("dispatch paused for %d s, the line keeps its order: %s", PAUSE_SECONDS,
                phone.redact(reason))
    try:
        redis.set(PAUSED_KEY, "1", ex=PAUSE_SECONDS)
    except RedisError:
        log.warning("the pause could not be noted: Redis unreachable")
        return
    try:
        job_scheduling.schedule_dispatch_after_pause(
            redis, utcnow() + timedelta(seconds=PAUSE_SECONDS))
    except RedisError:
        log.warning("no dispatch scheduled for the pause's end: Redis unreachable; the next "
                    "event or the sweep dispatches")


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
        """Match free operators with waiting parties until one side runs out (or time does)."""
        if is_paused(self.board.redis):
            return []
        operator_states.ensure_board(self.session, self.board)
        done: list[Assignment] = []
        deadline = time.monotonic() + RUN_SECONDS
        for turn in range(MAX_ASSIGNMENTS_PER_RUN):
            if turn and time.monotonic() > deadline:
                break
            free = self.board.available_ids(now)
            if not free or not line.waiting_parties(self.session, now):
                break
            idle_since = self.board.get(free[0]).since
            operator_id = self.board.claim_next_available(now)
            if operator_id is None:
                break
            try:
                # Before a party is claimed for them: a disabled account must get none.
                operator_states.persist_state(self.session, operator_id, "on_call", now)
            except operator_states.UnknownOperator:
                operator_states.take_off_the_board(self.board, operator_id, now)
                continue
            party = line.claim_next(self.session, operator_id, now)
            if party is None:
                # Someone else took the last party: the operator keeps their place as idle.
                self._idle_again(operator_id, idle_since, now)
                break
            try:
                assignment = self._hand_over(operator_id, party, now)
            except ClaimSettled:
                continue
            except TelephonyError:
                self._idle_again(operator_id, idle_since, now)
                break
            if assignment is None:
                self._idle_again(operator_id, idle_since, now)
                continue
            done.append(assignment)
        self.session.commit()  # end the read transaction: SQLite holds its lock until then
        if done:
            notify_line_changed(self.board.redis)
        return done

    def _idle_again(self, operator_id: int, idle_since: datetime, claimed_at: datetime) -> None:
        """Available again at their idle place: the claim gave them nobody.

        Only while the board still shows this claim: a hang-up, a logout or a disabling seen
        meanwhile (the holder's end may have freed them and given them the next caller) is
        newer than the claim, and stays.
        """
        claim = OperatorState(operator_id, "on_call", claimed_at)
        operator_states.set_state_if_unchanged(self.session, self.board, claim, "available",
                                               idle_since)

    def hand_over(self, operator_id: int, party: line.Party, now: datetime) -> Assignment | None:
        """Put a claimed party through to the operator; None when a holder has already gone.

        Raises TelephonyError when the network failed otherwise (the holder is given back to
        the line at their place), and ClaimSettled when the holder left the claim meanwhile.
        """
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
        except CallNotLive as exc:
            # The caller hung up between the claim and the redirect: they have left the line.
            log.info("holder %s could not be taken off hold: %s", call.call_sid, exc)
            released = self.session.execute(
                update(Call).where(Call.id == call.id, Call.operator_id == operator_id)
                .values(operator_id=None, ended_at=call.ended_at or now,
                        outcome="abandoned")
                .execution_options(synchronize_session=False)
            )
            self.session.commit()
            if released.rowcount != 1:
                # Their hang-up got there first and freed the operator, who may already have
                # been given someone else: their state is no longer this claim's to undo.
                raise ClaimSettled(
                    f"holder call {party.id} left the line's claim meanwhile") from None
            return None
        except TelephonyError as exc:
            if not self.give_back(call.id, operator_id):
                return self._settled_meanwhile(operator_id, party)
            pause(self.board.redis, str(exc))
            raise
        log.info("operator %d takes holder call %d", operator_id, call.id)
        return Assignment(operator_id, party)

    def _settled_meanwhile(self, operator_id: int, party: line.Party) -> Assignment:
        """The claim the network's failure could not give back: put through, or settled."""
        call = self.session.get(Call, party.id, populate_existing=True)
        self.session.commit()
        if call is not None and call.operator_id == operator_id and call.answered_at is not None:
            # The redirect did reach the caller, whose bridge answered before the error came.
            log.info("operator %d takes holder call %d", operator_id, call.id)
            return Assignment(operator_id, party)
        raise ClaimSettled(f"holder call {party.id} left the line's claim meanwhile")

    def give_back(self, call_id: int, operator_id: int) -> bool:
        """Return a claimed holder to the line at their place; False once the bridge has them.

        Conditional, like the bridge's answer: a redirect that did happen and this cannot both
        win, so an operator is never left on a call the line thinks is waiting, or the reverse.
        """
        given = self.session.execute(
            update(Call).where(Call.id == call_id, Call.operator_id == operator_id,
                               Call.answered_at.is_(None))
            .values(operator_id=None)
            .execution_options(synchronize_session=False)
        )
        self.session.commit()
        return given.rowcount == 1

    def _start_callback(self, operator_id: int, party: line.Party,
                        now: datetime) -> Assignment:
        request = self.session.get(CallbackRequest, party.id)
        assert request is not None
        self.session.refresh(request)
        attempt_no = request.attempts  # counted by the claim (line.claim_next)
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
