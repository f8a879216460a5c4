"""A constructed hour on the line, with every number it should give worked out by hand.

Now is 2026-11-20 10:00 UTC; "the last hour" is 09:00-10:00.

    call  started  put in line  answered   ended     outcome      meaning
    A     09:05    -            -          09:08     self_served  self-served
    B     09:10    -            -          09:15     booked       self-served
    C     09:12    09:13:00     09:13:30   09:20     queued       answered after 30 s
    D     09:20    09:21:00     09:23:00   09:30     queued       answered after 120 s
    E     09:30    09:30:30     -          09:32:30  abandoned    hung up after 120 s
    F     09:40    09:41:00     -          09:42     callback     left the line for a callback
    G     09:50    09:51:00     -          -         queued       still holding (540 s)
    H     09:45    -            -          09:46     abandoned    hung up in the menu
    K     09:55    -            -          09:57     callback     asked for a callback in the menu
    I     08:30    08:31:00     08:31:20   08:40     queued       before the hour
    J     09:30    outbound call (not counted)

Last hour: 9 calls, 8 finished, 2 self-served (25%); 5 put in line, 4 whose wait ended
(C, D, E, F); answered 2, within 60 s 1 -> service level 1/4 = 25%; abandoned 1 (E, not F)
-> 25%; average speed of answer (30 + 120) / 2 = 75 s; holding now 1, longest wait 540 s.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from call_queue.line_metrics.definitions import CallRecord
from madoguchi.models import Call, CallbackRequest

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    """A moment on the constructed day (UTC)."""
    return datetime(2026, 11, 20, hh, mm, ss, tzinfo=UTC)


def records(operator_id: int = 1) -> dict[str, CallRecord]:
    """The constructed calls by letter."""
    op = operator_id
    return {
        "A": CallRecord(at(9, 5), ended_at=at(9, 8), outcome="self_served"),
        "B": CallRecord(at(9, 10), ended_at=at(9, 15), outcome="booked"),
        "C": CallRecord(at(9, 12), at(9, 13), at(9, 13, 30), at(9, 20), "queued", op),
        "D": CallRecord(at(9, 20), at(9, 21), at(9, 23), at(9, 30), "queued", op),
        "E": CallRecord(at(9, 30), at(9, 30, 30), None, at(9, 32, 30), "abandoned"),
        "F": CallRecord(at(9, 40), at(9, 41), None, at(9, 42), "callback"),
        "G": CallRecord(at(9, 50), at(9, 51), None, None, "queued"),
        "H": CallRecord(at(9, 45), ended_at=at(9, 46), outcome="abandoned"),
        "K": CallRecord(at(9, 55), ended_at=at(9, 57), outcome="callback"),
        "I": CallRecord(at(8, 30), at(8, 31), at(8, 31, 20), at(8, 40), "queued", op),
        "J": CallRecord(at(9, 30), ended_at=at(9, 35), outcome=None, operator_id=op,
                        direction="outbound-api"),
    }


def store(session, operator_id: int) -> dict[str, CallRecord]:
    """Write the constructed calls (and callback requests) to the database; commits."""
    made = records(operator_id)
    for letter, record in made.items():
        # As in the IVR, a menu call is "answered" by the line itself when it starts.
        answered = record.answered_at if record.queued_at else record.started_at
        session.add(Call(
            call_sid=f"CA-constructed-{letter}", direction=record.direction,
            started_at=record.started_at, queued_at=record.queued_at, answered_at=answered,
            ended_at=record.ended_at, outcome=record.outcome, operator_id=record.operator_id,
            status="completed" if record.ended_at else "in-progress", path=[],
        ))
    # Callbacks: R1 promised from 08:30 (due 09:30, overdue at 10:00 with a 60-minute promise),
    # R2 from 09:41, R3 taken out of hours for 09:30 (due 10:30), R4 already reached.
    for number, status, created, window in (
        ("+819000000001", "waiting", at(8, 30), None),
        ("+819000000002", "waiting", at(9, 41), None),
        ("+819000000003", "dialing", at(8, 0), at(9, 30)),
        ("+819000000004", "reached", at(7, 0), None),
    ):
        session.add(CallbackRequest(phone_e164=number, status=status, created_at=created,
                                    arrival_at=created, window_start=window,
                                    updated_at=created))
    session.commit()
    return made


HOUR = timedelta(hours=1)
