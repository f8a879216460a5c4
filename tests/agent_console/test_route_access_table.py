"""The access table: every console route × every role, read from the app's URL map.

A route declares who may use it where it is written: `@role_required("operator" | "supervisor" |
"admin")` from agent_console.security records the role on the view function (as
`view.required_role`). A route open to anyone is listed in PUBLIC_ENDPOINTS below, with its
reason. A route that does neither fails this table, so no page is ever added unguarded.
"""

from __future__ import annotations

import pytest
from flask import url_for

from agent_console.security import ROLE_RANK
from tests.agent_console.conftest import csrf_token, login

# Open to anyone, and why. Everything else must carry @role_required.
PUBLIC_ENDPOINTS = {
    "console.login": "the way in",
    "console.logout": "ends whatever session there is; CSRF-protected",
    "console.static": "our own CSS, JavaScript and images",
}
ROLES = ("anonymous", *ROLE_RANK)
HOSTILE_TARGETS = [
    "https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example",
    "javascript:alert(1)", "data:text/html,x", "evil.example", "http:/evil.example",
    " //evil.example", "/\t/evil.example", "https:evil.example",
]


def console_routes(app) -> list[tuple[str, str, str, str | None]]:
    """(endpoint, url, method, required role) for every console route; 1 for any id."""
    routes = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("console.") or rule.endpoint in PUBLIC_ENDPOINTS:
                continue
            view = app.view_functions[rule.endpoint]
            url = url_for(rule.endpoint, **{name: 1 for name in rule.arguments})
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                routes.append((rule.endpoint, url, method, getattr(view, "required_role", None)))
    return routes


def ask(client, method: str, url: str, *, with_token: bool = True):
    """One request the way a browser sends it (POSTs carry the page's CSRF token)."""
    if method == "GET":
        response = client.get(url)
    else:
        data = {"csrf_token": csrf_token(client)} if with_token else {}
        response = client.open(url, method=method, data=data)
    # Event streams are never read to the end; closing ends the generator.
    response.close()
    return response


def assert_security_headers(response, where: str) -> None:
    """CSP without inline script and without framing, no sniffing, a referrer policy."""
    csp = response.headers.get("Content-Security-Policy", "")
    script_src = next((part for part in csp.split(";") if "script-src" in part), "")
    assert "'self'" in script_src and "unsafe-inline" not in script_src, where
    assert "frame-ancestors 'none'" in csp, where
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    assert response.headers.get("Referrer-Policy") in ("same-origin", "no-referrer"), where


def test_every_console_route_declares_who_may_use_it(app):
    undeclared = [endpoint for endpoint, _, _, role in console_routes(app) if role is None]
    assert not undeclared, (
        f"{sorted(set(undeclared))} declare no access level: put @role_required('operator' | "
        "'supervisor' | 'admin') from agent_console.security under the route decorator, or, for "
        "a page open to anyone, add the endpoint with its reason to PUBLIC_ENDPOINTS in "
        "tests/agent_console/test_route_access_table.py"
    )
    for endpoint, _, _, role in console_routes(app):
        assert role in ROLE_RANK, f"{endpoint}: unknown role {role!r}"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_the_routes_its_rank_allows(app, client, staff, role):
    if role != "anonymous":
        assert login(client, getattr(staff, role).username).status_code == 302
    for endpoint, url, method, required in console_routes(app):
        where = f"{role} {method} {url} ({endpoint}, needs {required})"
        response = ask(client, method, url)
        location = response.headers.get("Location", "")
        # 503 is a declared "not configured here" (the softphone's token), never a crash.
        assert response.status_code < 500 or response.status_code == 503, where
        assert_security_headers(response, where)
        if role == "anonymous":
            assert response.status_code == 302 and location.startswith("/console/login"), where
        elif ROLE_RANK[role] < ROLE_RANK[required]:
            assert response.status_code == 403, where
        else:
            assert response.status_code not in (401, 403), where
            assert not location.startswith("/console/login"), where


def test_every_post_route_refuses_a_request_without_a_csrf_token(app, client, staff):
    assert login(client, staff.admin.username).status_code == 302
    posts = [(url, endpoint) for endpoint, url, method, _ in console_routes(app)
             if method == "POST"]
    assert posts
    for url, endpoint in posts:
        response = ask(client, "POST", url, with_token=False)
        assert response.status_code == 400, endpoint
        assert_security_headers(response, endpoint)


def test_a_token_from_another_session_is_refused(app, client, staff):
    other = app.test_client()
    foreign = csrf_token(other)
    assert login(client, staff.operator.username).status_code == 302
    response = client.post("/console/language", data={"language": "en", "csrf_token": foreign})
    assert response.status_code == 400


def test_public_pages_and_error_pages_send_the_security_headers_too(client, as_operator):
    for url in ("/console/login", "/console/static/console.css", "/console/residents/999999",
                "/console/no-such-page"):
        assert_security_headers(client.get(url), url)


def test_no_login_next_leads_off_the_site(client, staff):
    for target in HOSTILE_TARGETS:
        response = login(client, staff.operator.username, next_url=target)
        assert response.status_code == 302, target
        assert response.headers["Location"] == "/console/", target


def test_no_language_back_address_leads_off_the_site(as_operator):
    for target in HOSTILE_TARGETS:
        data = {"language": "en", "back": target, "csrf_token": csrf_token(as_operator)}
        response = as_operator.post("/console/language", data=data)
        assert response.status_code == 302, target
        assert response.headers["Location"] == "/console/", target
