"""The simulated carrier's ledger in Redis: calls, rings, SMS, queues and live-call control.

Any process (web, worker, a terminal phone, a test) sees the same ledger. Phone numbers appear
only inside values, never in key names: the ledger is the carrier, so it knows the numbers,
but keys show up in monitoring tools and must not.

What holds a full number or a caller's words (the call's record, what was said to the operator,
instructions for the call) expires with the call: a generous time while it lasts, a short one
once it has ended. Text messages are forgotten a little after the last one.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from redis import Redis

PREFIX = "madoguchi:sim:"
# While a call lasts its keys live this long past each change; no call lasts so long.
LIVE_TTL_SECONDS = 6 * 3600
# Once it has ended, long enough for late status checks (a worker looking for the call it
# placed before it died), then the number and the transcript are gone.
ENDED_TTL_SECONDS = 15 * 60
FINAL_STATUSES = ("completed", "busy", "no-answer", "failed", "canceled")
SMS_KEPT = 1000
SMS_TTL_SECONDS = ENDED_TTL_SECONDS
# Recordings stay with the carrier for days, as in a Twilio account, so that messages left while
# Madoguchi's database was down can still be collected.
RECORDING_TTL_SECONDS = 7 * 24 * 3600
RECORDINGS_HOST = "https://sim.madoguchi.invalid/Recordings/"


def new_sid(prefix: str) -> str:
    """A Twilio-shaped id: two letters and 32 hex digits (CA… calls, SM… messages)."""
    return prefix + secrets.token_hex(16)


@dataclass
class SimulatedCall:
    """One call as the simulated carrier knows it."""

    sid: str
    direction: str
    from_number: str
    to_number: str
    url: str = ""
    status: str = "queued"
    status_callback: str = ""
    timeout_seconds: int = 60
    machine_detection: bool = False
    created_at: float = field(default_factory=time.time)
    bridged_to: str = ""

    @classmethod
    def from_hash(cls, data: dict[bytes, bytes]) -> SimulatedCall:
        """Rebuild a call from its Redis hash."""
        values: dict[str, Any] = {k.decode(): v.decode() for k, v in data.items()}
        values["timeout_seconds"] = int(values.get("timeout_seconds", 60))
        values["machine_detection"] = values.get("machine_detection") == "1"
        values["created_at"] = float(values.get("created_at", 0))
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in values.items() if k in known})

    def to_hash(self) -> dict[str, str]:
        """The call as a flat Redis hash."""
        values = asdict(self)
        values["machine_detection"] = "1" if self.machine_detection else "0"
        return {k: str(v) for k, v in values.items()}


@dataclass(frozen=True)
class SimulatedSms:
    """One text message carried by the simulated network."""

    sid: str
    from_number: str
    to_number: str
    body: str
    sent_at: float


@dataclass(frozen=True)
class SimulatedRecording:
    """A message recorded on a simulated call, as the carrier keeps it."""

    sid: str
    call_sid: str
    from_number: str
    seconds: int
    created_at: float
    to_number: str = ""  # the line the message was left on (kept since recordings are listed)

    @property
    def url(self) -> str:
        """The address Twilio would give as RecordingUrl."""
        return RECORDINGS_HOST + self.sid


@dataclass(frozen=True)
class Control:
    """An instruction for a live call from outside it: redirect to a URL, hang up, end a dial."""

    action: str
    url: str = ""


@dataclass(frozen=True)
class QueueStanding:
    """Where a call stands in a simulated queue, in Twilio's terms."""

    position: int
    size: int
    average_wait_seconds: int


class SimulatedNetwork:
    """The shared ledger of the simulated phone network, kept in Redis."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    # --- calls -------------------------------------------------------------------------
    def _call_key(self, sid: str) -> str:
        return f"{PREFIX}call:{sid}"

    def _keys_of(self, sid: str) -> list[str]:
        """Every key that holds something of this call (its record, transcript, instructions)."""
        return [self._call_key(sid), f"{PREFIX}transcript:{sid}", f"{PREFIX}control:{sid}"]

    def save_call(self, call: SimulatedCall) -> None:
        """Store or update a call; once it has ended, everything of it expires soon."""
        ended = call.status in FINAL_STATUSES
        pipe = self.redis.pipeline()
        pipe.hset(self._call_key(call.sid), mapping=call.to_hash())
        for key in self._keys_of(call.sid):
            pipe.expire(key, ENDED_TTL_SECONDS if ended else LIVE_TTL_SECONDS)
        if ended:
            pipe.srem(f"{PREFIX}live", call.sid)
        else:
            pipe.sadd(f"{PREFIX}live", call.sid)
        pipe.execute()

    def _ttl_of(self, sid: str) -> int:
        """How long a key of this call may live: generous while it lasts, short once ended."""
        status = self.redis.hget(self._call_key(sid), "status")
        return ENDED_TTL_SECONDS if status and status.decode() in FINAL_STATUSES else (
            LIVE_TTL_SECONDS)

    def get_call(self, sid: str) -> SimulatedCall | None:
        """A call by sid, or None when the network does not know it."""
        data = self.redis.hgetall(self._call_key(sid))
        return SimulatedCall.from_hash(data) if data else None

    def set_status(self, sid: str, status: str, **fields: str) -> None:
        """Record a call's new status (and any extra fields such as bridged_to)."""
        call = self.get_call(sid)
        if call is None:
            return
        call.status = status
        for name, value in fields.items():
            setattr(call, name, value)
        self.save_call(call)

    def live_calls(self) -> list[SimulatedCall]:
        """Every call that is ringing or in progress, oldest first."""
        sids = [sid.decode() for sid in self.redis.smembers(f"{PREFIX}live")]
        calls = [call for sid in sids if (call := self.get_call(sid))]
        return sorted(calls, key=lambda call: call.created_at)

    # --- ringing (outbound calls waiting for the resident's phone) ----------------------
    def ring(self, call: SimulatedCall) -> None:
        """Start ringing the called number: the call waits for a phone to answer it."""
        call.status = "ringing"
        self.save_call(call)
        self.redis.rpush(f"{PREFIX}ringing", call.sid)

    def outbound_calls(self, to_number: str) -> list[SimulatedCall]:
        """Every call placed to a number that the ledger still remembers, newest first."""
        calls = []
        for key in self.redis.scan_iter(f"{PREFIX}call:*", count=1000):
            data = self.redis.hgetall(key)
            if data.get(b"to_number") == to_number.encode() and data.get(b"direction") == (
                    b"outbound-api"):
                calls.append(SimulatedCall.from_hash(data))
        return sorted(calls, key=lambda call: call.created_at, reverse=True)

    def ringing_calls(self) -> list[SimulatedCall]:
        """Outbound calls still ringing, oldest first."""
        sids = [sid.decode() for sid in self.redis.lrange(f"{PREFIX}ringing", 0, -1)]
        return [call for sid in sids if (call := self.get_call(sid))]

    def pick_up(self, to_number: str | None = None) -> SimulatedCall | None:
        """Claim the oldest ringing call (to one number, if given); None when none rings."""
        for call in self.ringing_calls():
            if to_number is not None and call.to_number != to_number:
                continue
            # LREM is atomic: only one phone can claim a given ring.
            if self.redis.lrem(f"{PREFIX}ringing", 1, call.sid):
                return call
        return None

    def expire_ring(self, sid: str, now: float | None = None) -> bool:
        """End a ring nobody picked up within its timeout as no-answer, as a carrier does.

        Checked when the call is looked at (no process watches every ring); True if it ended now.
        """
        call = self.get_call(sid)
        if call is None or call.status != "ringing":
            return False
        if (now or time.time()) - call.created_at < call.timeout_seconds:
            return False
        # LREM is atomic: a phone picking the ring up at this moment wins, or this does.
        if not self.redis.lrem(f"{PREFIX}ringing", 1, sid):
            return False
        self.set_status(sid, "no-answer")
        return True

    def cancel_ring(self, sid: str) -> bool:
        """Stop a call ringing (hung up before anyone answered); True if it was ringing."""
        if self.redis.lrem(f"{PREFIX}ringing", 1, sid):
            self.set_status(sid, "canceled")
            return True
        return False

    # --- control of live calls ------------------------------------------------------------
    def send_control(self, sid: str, control: Control) -> None:
        """Queue an instruction for a live call; the phone running it obeys at its next step."""
        key = f"{PREFIX}control:{sid}"
        pipe = self.redis.pipeline()
        pipe.rpush(key, json.dumps(asdict(control)))
        pipe.expire(key, self._ttl_of(sid))
        pipe.execute()

    def take_control(self, sid: str) -> Control | None:
        """The oldest pending instruction for a call, removed from the ledger; None if none."""
        raw = self.redis.lpop(f"{PREFIX}control:{sid}")
        return Control(**json.loads(raw)) if raw else None

    # --- SMS ---------------------------------------------------------------------------
    def deliver_sms(self, from_number: str, to_number: str, body: str) -> SimulatedSms:
        """Carry a text message; it is kept in the ledger for phones and tests to read."""
        sms = SimulatedSms(new_sid("SM"), from_number, to_number, body, time.time())
        pipe = self.redis.pipeline()
        pipe.lpush(f"{PREFIX}sms", json.dumps(asdict(sms), ensure_ascii=False))
        pipe.ltrim(f"{PREFIX}sms", 0, SMS_KEPT - 1)
        pipe.expire(f"{PREFIX}sms", SMS_TTL_SECONDS)
        pipe.execute()
        return sms

    def messages(self, to_number: str | None = None) -> list[SimulatedSms]:
        """Text messages carried so far (to one number, if given), oldest first."""
        raw_items = self.redis.lrange(f"{PREFIX}sms", 0, -1)
        items = [SimulatedSms(**json.loads(raw)) for raw in raw_items]
        items.reverse()
        return [sms for sms in items if to_number is None or sms.to_number == to_number]

    # --- recordings ------------------------------------------------------------------------
    def keep_recording(self, recording: SimulatedRecording) -> None:
        """Keep a recorded message; listed and fetched until it expires."""
        pipe = self.redis.pipeline()
        key = f"{PREFIX}recording:{recording.sid}"
        pipe.set(key, json.dumps(asdict(recording)), ex=RECORDING_TTL_SECONDS)
        pipe.zadd(f"{PREFIX}recordings", {recording.sid: recording.created_at})
        pipe.zremrangebyscore(f"{PREFIX}recordings", 0, time.time() - RECORDING_TTL_SECONDS)
        pipe.expire(f"{PREFIX}recordings", RECORDING_TTL_SECONDS)
        pipe.execute()

    def recording(self, sid: str) -> SimulatedRecording | None:
        """One kept recording by its RE… id, if the carrier still has it."""
        raw = self.redis.get(f"{PREFIX}recording:{sid}")
        return SimulatedRecording(**json.loads(raw)) if raw else None

    def forget_recording(self, sid: str) -> None:
        """Delete a kept recording, as a carrier does when asked."""
        pipe = self.redis.pipeline()
        pipe.delete(f"{PREFIX}recording:{sid}")
        pipe.zrem(f"{PREFIX}recordings", sid)
        pipe.execute()

    def recordings_since(self, since: float) -> list[SimulatedRecording]:
        """Recordings made since a moment (epoch seconds), oldest first."""
        sids = self.redis.zrangebyscore(f"{PREFIX}recordings", since, "+inf")
        found = (self.recording(sid.decode()) for sid in sids)
        return [item for item in found if item is not None]

    # --- queues (Enqueue) ----------------------------------------------------------------
    def _queue_key(self, name: str) -> str:
        return f"{PREFIX}queue:{name}"

    def join_queue(self, name: str, sid: str) -> None:
        """Put a call at the end of a named queue (arrival order across all processes)."""
        order = self.redis.incr(f"{PREFIX}queue-arrivals")
        self.redis.zadd(self._queue_key(name), {sid: order}, nx=True)

    def queue_size(self, name: str) -> int:
        """How many calls wait in a named queue."""
        return int(self.redis.zcard(self._queue_key(name)))

    def report_wait(self, name: str, sid: str, waited_seconds: int) -> QueueStanding:
        """Record how long this call has waited; return its standing in the queue."""
        key = self._queue_key(name)
        self.redis.hset(f"{key}:waited", sid, waited_seconds)
        rank = self.redis.zrank(key, sid)
        size = int(self.redis.zcard(key))
        members = {sid.decode() for sid in self.redis.zrange(key, 0, -1)}
        waits = [
            int(value)
            for member, value in self.redis.hgetall(f"{key}:waited").items()
            if member.decode() in members
        ]
        average = sum(waits) // len(waits) if waits else 0
        return QueueStanding((rank or 0) + 1, max(size, 1), average)

    def leave_queue(self, name: str, sid: str) -> None:
        """Take a call out of a named queue."""
        key = self._queue_key(name)
        pipe = self.redis.pipeline()
        pipe.zrem(key, sid)
        pipe.hdel(f"{key}:waited", sid)
        pipe.execute()

    # --- operator side of a bridged call ---------------------------------------------------
    def say_to_operator(self, sid: str, text: str) -> None:
        """Pass what a bridged caller said to the operator's side (text stands for audio)."""
        key = f"{PREFIX}transcript:{sid}"
        pipe = self.redis.pipeline()
        pipe.rpush(key, text)
        pipe.expire(key, self._ttl_of(sid))
        pipe.execute()

    def transcript(self, sid: str) -> list[str]:
        """What a bridged caller said to the operator so far."""
        return [line.decode() for line in self.redis.lrange(f"{PREFIX}transcript:{sid}", 0, -1)]

    def end_dial(self, sid: str) -> None:
        """The operator's side ends a bridged call; the caller's call goes on after <Dial>."""
        self.send_control(sid, Control("end-dial"))
