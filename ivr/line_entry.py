"""The phone line's way into the line: hold with an estimate, and what follows the hold.

Used by the IVR's "talk to a person" step (r_person) and its Enqueue action (queue_done). The
caller is never hung up on: a full queue, a broken wait loop or a Redis outage all lead to the
callback offer, and a caller who asks to be called back keeps the place they had.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from twilio.twiml.voice_response import VoiceResponse

from call_queue import holding, line_services, operator_bridge, taking, waiting
from ivr.state import Go, Outcome
from madoguchi import calls
from madoguchi.query_values import parse_whole
from madoguchi.voice.inputs import printable

if TYPE_CHECKING:
    from ivr.flow import CallFlow


def _public(flow: CallFlow, path: str) -> str:
    return f"{flow.settings.secrets.public_base_url}/voice/{path}"


def enqueue_response(flow: CallFlow, preface: tuple) -> VoiceResponse:
    """The Enqueue TwiML for this call: the wait loop in its language, our action step."""
    utterance = flow.utter([*preface, "queue_joined"])
    return waiting.enqueue(utterance, flow.voicing(utterance),
                           _public(flow, f"queue/wait?l={flow.state.lang}"),
                           flow.url("queue_done"), flow.menu.pause_ms)


def hold(flow: CallFlow) -> VoiceResponse | None:
    """Put the caller in the line when operators are on duty; None when nobody is."""
    if line_services.operators_on_duty(flow.session, flow.now) <= 0:
        return None
    holding.join(flow.session, flow.call, flow.now, flow.settings.queue.return_window_minutes)
    calls.add_path(flow.session, flow.call, "queue_joined")
    response = enqueue_response(flow, flow.preface)
    line_services.dispatch(flow.session, flow.now)  # an operator may be free right now
    return response


def queue_done(flow: CallFlow, form: Mapping[str, str]) -> Outcome:
    """The Enqueue action: hung up, left for a callback, bridged, or a failed wait."""
    result = printable(form.get("QueueResult"), 20)
    waited = printable(form.get("QueueTime"), 9)
    if result == "hangup" and flow.call.outcome == "abandoned":
        return VoiceResponse()  # a retry of the hang-up already recorded
    calls.add_path(flow.session, flow.call, "queue_result", result or "none")
    if result == "hangup":
        stranded = holding.leave_hung_up(flow.session, flow.call,
                                         parse_whole(waited), flow.now)
        if stranded is not None:
            operator_bridge.free_if_still_theirs(flow.session, stranded, flow.call, flow.now)
        taking.announce_line_changed()
        return VoiceResponse()  # the caller has gone; nothing more is played
    if result == "bridged":
        return flow.say_then_end()
    if result == "redirected" and flow.call.operator_id is not None:
        response = VoiceResponse()
        response.redirect(_public(flow, f"queue/bridge?call={flow.call.id}"), method="POST")
        return response
    if result == "redirected":
        return enqueue_response(flow, ())
    holding.leave_for_callback(flow.session, flow.call)
    taking.announce_line_changed()
    if result == "leave":
        if flow.call.from_e164:
            calls.remember(flow.session, flow.call, "callback_number", flow.call.from_e164)
            return Go("cb_number_ok", ("queue_place_kept",))
        return Go("cb_number", ("queue_place_kept",))
    # queue-full, error, system-error and anything unknown: a callback offer, never a hang-up.
    return Go("callback_offer", ("cannot_connect",))
