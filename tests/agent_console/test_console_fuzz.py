"""Property: every console route, read from the URL map, answers hostile input without a 5xx.

Logged in as each role, every GET and POST route of the console gets odd path values (huge and
non-ASCII digits, NUL, long strings), odd query arguments (far dates, "²", negative numbers) and,
for POSTs, odd form fields with a valid CSRF token. Whatever arrives, the answer is a page, a
redirect or a 4xx with a message; never a server error. MADOGUCHI_FUZZ_EXAMPLES chooses a deeper
run (default 4 per route and role).
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from tests.agent_console.conftest import csrf_token, login

EXAMPLES = int(os.environ.get("MADOGUCHI_FUZZ_EXAMPLES", "4"))
# Routes whose success would end the fuzzing session itself; their refusal paths are covered
# by the access table and the session tests.
SKIPPED = {"console.logout", "console.static", "console.login"}
# 503 is a declared "not configured here" (the softphone's token), never a crash.
ALLOWED_5XX = {503}

QUERY_NAMES = ["resident", "q", "day", "from", "to", "kind", "campaign", "site", "before",
               "status", "page", "move", "lang", "next", "category", "range", "party", "id"]
FORM_NAMES = ["slot_id", "booking_id", "resident_id", "reason", "state", "next", "party",
              "call_id", "disposition", "notes", "category", "subject", "body", "status",
              "text", "kind", "phone_id", "reference", "language", "reach_by", "phone",
              "active", "username", "password", "new_password", "repeat_password",
              "current_password", "question", "answer", "note", "assignee", "day", "site"]
hostile = st.sampled_from([
    "", "0", "-1", "²", "١٢٣", "99999999999999999999999", "2147483648", "1e9", "1.5", "NaN",
    "0001-01-01", "9999-12-31", "2026-02-30", "\x00", "a\x00b", "../../etc/passwd", "%00",
    "<script>alert(1)</script>", "' OR 1=1 --", "あ" * 300, "9" * 5000, " ", "null", "[]",
]) | st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
# Half real ids (so the view behind the route runs), half nonsense (so routing is tried).
path_value = st.sampled_from(["1", "2"]) | hostile.filter(
    lambda value: "/" not in value and value not in ("", ".", ".."))
queries = st.lists(st.tuples(st.sampled_from(QUERY_NAMES), hostile), max_size=4)
forms = st.lists(st.tuples(st.sampled_from(FORM_NAMES), hostile), max_size=6)
_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def console_rules(app) -> list[tuple[str, str, str]]:
    """(endpoint, rule pattern, method) of every console route but the skipped ones."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console.") or rule.endpoint in SKIPPED:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, rule.rule, method))
    return sorted(found)


def fill(pattern: str, values: st.DrawFn) -> str:
    """The route's pattern with each variable replaced by raw (percent-encoded) text."""
    return _VARIABLE.sub(lambda _: quote(values(path_value), safe=""), pattern)


@pytest.mark.slow
@pytest.mark.parametrize("role", ["operator", "supervisor", "admin"])
def test_no_console_route_answers_a_server_error_to_odd_input(app, client, staff, role):
    username = getattr(staff, role).username
    assert login(client, username).status_code == 302
    rules = console_rules(app)
    assert len(rules) > 40
    token = csrf_token(client, "/console/me")

    @settings(max_examples=EXAMPLES * len(rules), deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def one_request(data):
        nonlocal token
        endpoint, pattern, method = data.draw(st.sampled_from(rules), label="route")
        url = fill(pattern, data.draw)
        query = data.draw(queries, label="query")
        if query:
            url += "?" + urlencode(query)
        where = f"{role} {method} {url} ({endpoint})"
        if method == "GET":
            response = client.get(url)
        else:
            fields = data.draw(forms, label="form")
            response = client.open(url, method=method,
                                   data=MultiDict([*fields, ("csrf_token", token)]))
        response.close()
        assert response.status_code < 500 or response.status_code in ALLOWED_5XX, where
        body = response.get_data(as_text=True) if not response.is_streamed else ""
        assert "Traceback" not in body, where
        if response.headers.get("Location", "").startswith("/console/login"):
            # A request that ended the session (a disabled self, a new password): log in again.
            assert login(client, username).status_code == 302, where
            token = csrf_token(client, "/console/me")

    one_request()
