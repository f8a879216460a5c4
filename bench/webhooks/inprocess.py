"""One webhook at a time in this process (Flask test client): wall and CPU time per request.

Each iteration is a new call: `/voice/incoming` with a new CallSid, then that call's answer to
the main menu (`/voice/step/menu`, Digits=1). The ceiling app answers the same requests in the
same loop, so every figure comes with its ratio to the ceiling measured in the same run.
"""

from __future__ import annotations

import html
import re
import secrets
import time
from collections.abc import Callable
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from bench._results import percentile

CALLER = "+81312345678"
LINE = "+81501234567"


def signed_post(client, validator: RequestValidator, base: str, path: str, form: dict):
    """POST a form to path, signed as Twilio signs it for base + path."""
    signature = validator.compute_signature(base + path, form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def menu_path(lang: str = "ja", *, as_greeted: bool = False) -> str:
    """A main-menu action URL with a fresh nonce, for an answer whose greeting was not sent.

    as_greeted: with the state Madoguchi's greeting hands a caller whose number is not
    registered (`r=0`). Every caller's menu answer follows a greeting, which says whether the
    number is registered; without `r` the answer would look the number up, which none does.
    """
    query = {"a": "0", "k": secrets.token_hex(4), "l": lang, "q": "1"}
    if as_greeted:
        query["r"] = "0"
    return "/voice/step/menu?" + urlencode(sorted(query.items()))


_ACTION = re.compile(rb'<Gather[^>]* action="[^"?]*/voice/step/[a-z_]+\?([^"]*)"')


def menu_path_after(greeting: bytes) -> str:
    """The menu answer's URL with the state the greeting handed out (the language question's
    state, as pressing 1 for Japanese carries it on to the menu); menu_path() for an answer
    without a question (the ceiling's fixed <Say>)."""
    found = _ACTION.search(greeting)
    if found is None:
        return menu_path()
    return "/voice/step/menu?" + html.unescape(found.group(1).decode())


def call_form(call_sid: str, **extra: str) -> dict:
    """The parameters Twilio sends with every voice webhook of a call."""
    return {"CallSid": call_sid, "AccountSid": "AC" + "0" * 32, "From": CALLER, "To": LINE,
            "CallStatus": "in-progress", "Direction": "inbound", **extra}


def measure(app, auth_token: str, base: str, count: int) -> dict:
    """Wall and CPU milliseconds per /voice/incoming and per menu answer, `count` calls."""
    client = app.test_client()
    validator = RequestValidator(auth_token)
    samples: dict[str, dict[str, list[float]]] = {
        name: {"wall": [], "cpu": []} for name in ("incoming", "menu")}

    def timed(name: str, send: Callable[[], object]):
        wall, cpu = time.perf_counter(), time.process_time()
        response = send()
        samples[name]["wall"].append((time.perf_counter() - wall) * 1000)
        samples[name]["cpu"].append((time.process_time() - cpu) * 1000)
        if response.status_code != 200 or b"<Response" not in response.data:
            raise RuntimeError(f"{name} answered {response.status_code}: {response.data[:300]!r}")
        return response

    for _ in range(count):
        sid = "CA" + secrets.token_hex(16)
        greeting = timed("incoming", lambda sid=sid: signed_post(
            client, validator, base, "/voice/incoming", call_form(sid)))
        path = menu_path_after(greeting.data)
        timed("menu", lambda sid=sid, path=path: signed_post(
            client, validator, base, path, call_form(sid, Digits="1")))
    return {name: summary(values) for name, values in samples.items()}


def summary(values: dict[str, list[float]]) -> dict:
    """Mean and percentiles of wall and CPU milliseconds (the first tenth is warm-up)."""
    out = {}
    for kind, series in values.items():
        kept = series[len(series) // 10:]
        out[kind] = {"mean_ms": round(sum(kept) / len(kept), 3),
                     "p50_ms": round(percentile(kept, 0.5), 3),
                     "p99_ms": round(percentile(kept, 0.99), 3), "count": len(kept)}
    return out
