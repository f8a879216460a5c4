"""Console fixtures: one user per role with a known password, logging in through the form."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from agent_console.services import accounts

PASSWORD = "correct-horse-battery"
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                    r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Staff:
    """The test users, one per role."""

    operator: object
    supervisor: object
    admin: object


@pytest.fixture(autouse=True)
def _clean_redis(redis_client):
    """Login failure counters from one test never reach the next."""
    from agent_console.services import login_limit

    login_limit._local_counts.clear()
    yield redis_client


@pytest.fixture
def staff(db_session) -> Staff:
    """An operator, a supervisor and an admin, all with PASSWORD."""
    made = {
        role: accounts.create_operator(
            db_session, username=f"{role}-user", display_name=f"{role} 太郎",
            password=PASSWORD, role=role, language="en" if role == "admin" else "ja",
        )
        for role in ("operator", "supervisor", "admin")
    }
    return Staff(**made)


def csrf_token(client, path: str = "/console/login") -> str:
    """The CSRF token of a form on the page (the session cookie holds its twin)."""
    page = client.get(path).get_data(as_text=True)
    match = _TOKEN.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def login(client, username: str, password: str = PASSWORD, next_url: str | None = None):
    """Post the login form the way a browser does."""
    data = {"username": username, "password": password,
            "csrf_token": csrf_token(client)}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/console/login", data=data)


def post(client, path: str, data: dict | None = None, form_page: str = "/console/residents"):
    """A POST carrying a valid CSRF token taken from a console page."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, form_page)})


def search(client, text: str, page: str = "/console/residents"):
    """Search for a resident the way the page's search box does: posted, never in the URL."""
    return post(client, page, {"q": text}, form_page=page)


@pytest.fixture
def as_operator(client, staff):
    """A client logged in as the operator."""
    assert login(client, staff.operator.username).status_code == 302
    return client


@pytest.fixture
def as_supervisor(client, staff):
    """A client logged in as the supervisor."""
    assert login(client, staff.supervisor.username).status_code == 302
    return client


@pytest.fixture
def as_admin(client, staff):
    """A client logged in as the admin."""
    assert login(client, staff.admin.username).status_code == 302
    return client
