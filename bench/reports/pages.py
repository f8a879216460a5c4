"""Every console page a supervisor can open, timed through the Flask test client.

The pages come from the app's URL map (GET routes of the console whose required role a
supervisor has; the admin-only audit log and users pages through an admin's login), with
realistic arguments: a year for reports that take a range, the longest range a page allows
where it caps one, real ids for record pages. Event streams never end and are left out.
Each page is read to its last byte (streamed CSVs included). The ceiling is /console/me, a
console page that only renders the signed-in user's settings, through the same stack.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date, timedelta

from agent_console.security import ROLE_RANK
from agent_console.services import accounts
from bench._results import percentile
from bench.reports.year import phone_of, resident_no_of

PASSWORD = "bench-password-long-enough"
CEILING = "/console/me"
# Never-ending event streams; a token for the browser phone (Twilio's keys, not the console);
# a voicemail's sound (fetched from the phone network, not from the database); the console's
# root, which only redirects.
LEFT_OUT = {"console.live_stream": "event stream", "console.work_stream": "event stream",
            "console.voice_token_json": "browser phone token (Twilio keys)",
            "console.inquiry_recording": "a voicemail's sound, fetched from the phone network",
            "console.home": "a redirect to the resident search (timed as that)"}
_TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


@dataclass(frozen=True)
class Page:
    """One request to time: a name for the table, its URL, and who asks (a form: posted)."""

    name: str
    url: str
    role: str = "supervisor"
    headers: tuple[tuple[str, str], ...] = ()
    form: tuple[tuple[str, str], ...] = ()


def staff(app) -> None:
    """A supervisor and an admin with the benchmark's password."""
    from madoguchi.db import get_session

    with app.app_context():
        session = get_session()
        for role in ("supervisor", "admin"):
            accounts.create_operator(session, username=f"bench-{role}", display_name=role,
                                     password=PASSWORD, role=role, language="ja")
        session.commit()


def logged_in(app, role: str):
    """A test client signed in through the login form."""
    client = app.test_client()
    page = client.get("/console/login").get_data(as_text=True)
    token = _TOKEN.search(page).group(1)
    answer = client.post("/console/login", data={"username": f"bench-{role}",
                                                 "password": PASSWORD, "csrf_token": token})
    if answer.status_code != 302:
        raise RuntimeError(f"logging in as {role} answered {answer.status_code}")
    return client


def pages(app, *, first: date, last: date, ids: dict[str, int], api_token: str) -> list[Page]:
    """The pages to time, one or more per GET route a supervisor (or, for admin pages, an
    admin) can open; raises when a route is neither timed nor knowingly left out."""
    year = f"from={first}&to={last}"
    busy = first + timedelta(days=10)
    month = f"from={busy}&to={busy + timedelta(days=30)}"
    by_endpoint: dict[str, list[Page]] = {
        "console.my_settings": [Page("ceiling: my settings", CEILING)],
        "console.reports": [Page("reports menu", "/console/reports")],
        "console.capacity_ledger_page": [
            Page("ledger, whole campaign", f"/console/reports/ledger?campaign={ids['campaign']}"),
            Page("ledger, one day", f"/console/reports/ledger?campaign={ids['campaign']}"
                                    f"&from={busy}&to={busy}")],
        "console.capacity_ledger_csv": [
            Page("ledger CSV, whole campaign",
                 f"/console/reports/ledger.csv?campaign={ids['campaign']}")],
        "console.inquiry_analytics_page": [
            Page("inquiry analytics, a year per week",
                 f"/console/reports/inquiries?{year}&per=week"),
            Page("inquiry analytics, a year per day",
                 f"/console/reports/inquiries?{year}&per=day"),
            Page("inquiry analytics, default 28 days", "/console/reports/inquiries")],
        "console.menu_print_page": [Page("printable menu", "/console/reports/menu")],
        "console.exports_page": [Page("exports form", "/console/reports/exports")],
        "console.export_csv": [
            Page("calls CSV, one day", f"/console/reports/export.csv?kind=calls&from={busy}"
                                       f"&to={busy}"),
            Page("inquiries CSV, a month", f"/console/reports/export.csv?kind=inquiries&{month}")],
        "console.history_charts": [
            Page("line history, one day", f"/console/history?from={busy}&to={busy}"),
            Page("line history, 31 days (the longest allowed)", f"/console/history?{month}")],
        "console.live": [Page("live line", "/console/live")],
        "console.residents": [
            Page("resident search, empty", "/console/residents"),
            # Posted, as the search box sends it: no address carries what was searched.
            Page("resident search, register number", "/console/residents",
                 form=(("q", resident_no_of(ids["resident"])),)),
            Page("resident search, phone", "/console/residents",
                 form=(("q", f"0{phone_of(ids['resident'])[3:]}"),))],
        "console.resident": [Page("resident record", f"/console/residents/{ids['resident']}")],
        "console.inquiries": [
            Page("inquiries list", "/console/inquiries"),
            Page("inquiries list, open", "/console/inquiries?status=received"),
            Page("inquiries list, overdue", "/console/inquiries?overdue=1")],
        "console.inquiry": [Page("inquiry", f"/console/inquiries/{ids['inquiry']}")],
        "console.new_inquiry": [Page("new inquiry form", "/console/inquiries/new")],
        "console.work": [
            Page("work screen", "/console/work"),
            Page("work screen with a resident", f"/console/work?resident={ids['resident']}")],
        "console.faq": [Page("FAQ list", "/console/faq")],
        "console.faq_edit": [Page("FAQ entry", f"/console/faq/{ids['faq']}"),
                             Page("FAQ new entry form", "/console/faq/new")],
        "console.audit": [Page("audit log (admin)", "/console/admin/audit", "admin"),
                          Page("audit log of a resident (admin)",
                               f"/console/admin/audit?resident={ids['resident']}", "admin")],
        "console.users": [Page("users (admin)", "/console/admin/users", "admin")],
        "console.user_sessions": [Page("a user's sessions (admin)",
                                       f"/console/admin/users/{ids['operator']}/sessions",
                                       "admin")],
    }
    found: list[Page] = []
    missing = []
    for rule in app.url_map.iter_rules():
        role = getattr(app.view_functions[rule.endpoint], "required_role", None)
        if (not rule.endpoint.startswith("console.") or "GET" not in rule.methods
                or role is None or rule.endpoint in LEFT_OUT):
            continue
        if rule.endpoint not in by_endpoint:
            missing.append(rule.endpoint)
            continue
        found.extend(page for page in by_endpoint[rule.endpoint]
                     if ROLE_RANK[role] <= ROLE_RANK[page.role])
    if missing:
        raise RuntimeError(f"console pages the benchmark does not know how to open: {missing}")
    api = (("Authorization", f"Bearer {api_token}"),)
    found.append(Page("API ledger of a day (/api/counts)",
                      f"/api/counts?campaign=BENCH&date={busy}", "api", api))
    return list({page.name: page for page in found}.values())


def time_pages(app, page_list: list[Page], repeats: int) -> dict[str, dict]:
    """p50 / p99 / max milliseconds of each page over `repeats` rounds (all pages each round,
    so that the machine's load falls on every page alike), after one warm-up round."""
    clients = {role: logged_in(app, role) for role in ("supervisor", "admin")}
    tokens = {role: _TOKEN.search(client.get("/console/residents").get_data(as_text=True))
              .group(1) for role, client in clients.items()}
    clients["api"] = app.test_client()
    times: dict[str, list[float]] = {page.name: [] for page in page_list}
    sizes: dict[str, tuple[int, int]] = {}
    for round_ in range(repeats + 1):
        for page in page_list:
            started = time.perf_counter()
            if page.form:
                answer = clients[page.role].post(
                    page.url, data={**dict(page.form), "csrf_token": tokens[page.role]})
            else:
                answer = clients[page.role].get(page.url, headers=dict(page.headers))
            body = answer.get_data()
            elapsed = (time.perf_counter() - started) * 1000
            answer.close()
            if answer.status_code != 200:
                raise RuntimeError(f"{page.url} answered {answer.status_code}: {body[:300]!r}")
            if round_:
                times[page.name].append(elapsed)
            sizes[page.name] = (answer.status_code, len(body))
    ceiling = times[next(page.name for page in page_list if page.url == CEILING)]
    ceiling_p50, ceiling_p99 = percentile(ceiling, 0.5), percentile(ceiling, 0.99)
    return {
        page.name: {
            "url": page.url, "role": page.role, "bytes": sizes[page.name][1],
            "p50_ms": round(percentile(times[page.name], 0.5), 1),
            "p99_ms": round(percentile(times[page.name], 0.99), 1),
            "max_ms": round(max(times[page.name]), 1),
            "p50_over_ceiling": round(percentile(times[page.name], 0.5) / ceiling_p50, 2),
            "p99_over_ceiling": round(percentile(times[page.name], 0.99) / ceiling_p99, 2),
            "repeats": repeats,
        }
        for page in page_list
    }
