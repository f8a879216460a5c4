"""Every console page passes axe-core's WCAG 2.1 A and AA rules, for every role, in both languages.

axe-core runs inside Debian's Chromium through axe-playwright-python (the library ships its own
copy of axe-core; nothing is fetched from a CDN). The pages come from the app's URL map: a page
added to the console without being listed here fails the first test. Pages that the server
updates live are scanned after an update has arrived: the work screen once a newly holding
caller and a newly waiting callback have been pushed to it, the wall screen once a new alert has.
The pages that refuse an operator a supervisor's page, find nothing or turn back an expired
form are scanned too. One logged-in browser context serves each role and language.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from axe_playwright_python.sync_playwright import Axe
from redis import Redis
from sqlalchemy.orm import sessionmaker

from agent_console.security import ROLE_RANK
from agent_console.services import accounts
from ivr.voicemail import keep_voicemail
from madoguchi import booking, inquiries
from madoguchi.events import notify_line_changed
from madoguchi.models import (
    AlertEvent,
    Call,
    CallbackRequest,
    Campaign,
    FaqEntry,
    FaqText,
    Resident,
    ResidentPhone,
    Site,
    Slot,
    utcnow,
)
from madoguchi.telephony.network import RECORDINGS_HOST, new_sid
from tests.conftest import _empty_tables
from tests.e2e.conftest import PASSWORD, log_in

# WCAG 2.1 A and AA, and axe's best practices too: a table header without text and a page
# without a level-one heading are among them, and they cost a screen-reader user as much.
RULE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
LANGUAGES = ("ja", "en")
ROLES = ("operator", "supervisor", "admin")
NUMBERS = (f"+81908765{n:04d}" for n in itertools.count(1))  # callers of the scene

# Every console page a browser opens, with the least role that may open it. The URL map's other
# GET routes are not pages: event streams, downloads, the softphone's token, our static files.
PAGES = {
    "console.work": "operator",
    "console.residents": "operator",
    "console.resident": "operator",
    "console.inquiries": "operator",
    "console.inquiry": "operator",
    "console.new_inquiry": "operator",
    "console.my_settings": "operator",
    "console.faq": "supervisor",
    "console.faq_edit": "supervisor",
    "console.live": "supervisor",
    "console.history_charts": "supervisor",
    "console.reports": "supervisor",
    "console.exports_page": "supervisor",
    "console.inquiry_analytics_page": "supervisor",
    "console.capacity_ledger_page": "supervisor",
    "console.menu_print_page": "supervisor",
    "console.users": "admin",
    "console.audit": "admin",
    "console.user_sessions": "admin",
}
NOT_PAGES = {
    "console.login",  # scanned signed out, below
    "console.home",  # a redirect to the work screen
    "console.static", "console.work_stream", "console.live_stream", "console.voice_token_json",
    "console.export_csv", "console.capacity_ledger_csv",
    "console.inquiry_recording",  # a voicemail's sound; the case page that plays it is scanned
}


def _scans() -> list[tuple[str, str, str]]:
    return [(role, language, endpoint) for role in ROLES for language in LANGUAGES
            for endpoint in PAGES if ROLE_RANK[role] >= ROLE_RANK[PAGES[endpoint]]]


def test_every_console_page_of_the_url_map_is_scanned_for_the_roles_that_may_open_it(app):
    get_routes = {rule.endpoint: rule for rule in app.url_map.iter_rules()
                  if rule.endpoint.startswith("console.") and "GET" in rule.methods}
    unlisted = set(get_routes) - set(PAGES) - NOT_PAGES
    assert not unlisted, f"add {sorted(unlisted)} to PAGES (or NOT_PAGES) in this file"
    for endpoint, role in PAGES.items():
        assert getattr(app.view_functions[endpoint], "required_role", None) == role, endpoint


@pytest.fixture(scope="module")
def scene(engine, redis_url):
    """Committed data every scan sees: a user per role and language, a resident, the line."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    _empty_tables(engine)
    with factory() as session:
        users = {}
        for role in ROLES:
            for language in LANGUAGES:
                user = accounts.create_operator(
                    session, username=f"a11y_{role}_{language}", display_name=f"{role} {language}",
                    password=PASSWORD, role=role, language=language)
                users[role, language] = user.id
        for language in LANGUAGES:
            # The same pages in larger type (My settings → 文字を大きく): contrast and layout hold.
            large = accounts.create_operator(
                session, username=f"a11y_large_{language}", display_name=f"large {language}",
                password=PASSWORD, role="supervisor", language=language)
            large.large_text = True
        resident = Resident(resident_no="20240001", name="佐藤 花子", name_kana="サトウ ハナコ",
                            birth_date=date(1941, 3, 9))
        resident.phones.append(ResidentPhone(e164="+819012345678", is_mobile=True))
        entry = FaqEntry(position=1, texts=[
            FaqText(language="ja", title="ごみの日", answer="燃えるごみは月曜と木曜です。"),
            FaqText(language="en", title="Rubbish days", answer="Burnable: Mondays, Thursdays.")])
        campaign = Campaign(code="V1", name="新型コロナワクチン 秋接種", name_en="Autumn round")
        site = Site(code="HALL", name="みどり市民会館", name_en="Midori Civic Hall")
        session.add_all([resident, entry, campaign, site])
        session.flush()
        day = datetime.now(ZoneInfo("Asia/Tokyo")).date() + timedelta(days=3)
        slots = [Slot(campaign_id=campaign.id, site_id=site.id, capacity=capacity,
                      starts_at=datetime(day.year, day.month, day.day, hour, tzinfo=UTC),
                      length_minutes=30) for hour, capacity in ((1, 10), (2, 1))]
        session.add_all(slots)
        session.commit()
        booking.book(session, slot_id=slots[0].id, resident_id=resident.id, channel="ivr")
        inquiries.create(session, category="waste", subject="粗大ごみの回収日",
                         channel="ivr", resident_id=resident.id)
        # The case page scanned is a voicemail, so its player is scanned too.
        inquiry = keep_voicemail(session, recording_url=RECORDINGS_HOST + new_sid("RE"),
                                 seconds="12", subject="留守番電話", call_sid=new_sid("CA"),
                                 resident_id=resident.id, due_hours=24)
        # The line before any page opens: enough holders and overdue callbacks to colour tiles.
        for minutes in (9, 4, 2):
            _hold(session, minutes)
        _callback(session, overdue=True)
        ids = {"resident_id": resident.id, "day": day.isoformat(), "inquiry_id": inquiry.id,
               "entry_id": entry.id, "operator_id": users["operator", "ja"]}
    redis = Redis.from_url(redis_url)
    yield {"db": factory, "redis": redis, "users": users, "ids": ids}
    redis.close()
    _empty_tables(engine)


def _hold(session, minutes: float) -> Call:
    call = Call(call_sid=new_sid("CA"), from_e164=next(NUMBERS), language="ja",
                outcome="queued", queued_at=utcnow() - timedelta(minutes=minutes),
                path=[{"at": "2026-01-01T00:00:00", "node": "incoming"},
                      {"at": "2026-01-01T00:00:04", "node": "person"}])
    session.add(call)
    session.commit()
    return call


def _callback(session, *, overdue: bool = False) -> CallbackRequest:
    start = utcnow() - (timedelta(hours=2) if overdue else timedelta(minutes=1))
    request = CallbackRequest(phone_e164=next(NUMBERS), language="ja", status="waiting",
                              attempts=1, arrival_at=start, window_start=start,
                              window_end=start + timedelta(minutes=60))
    session.add(request)
    session.commit()
    return request


@pytest.fixture(scope="module")
def signed_in(browser, live_server, scene):
    """One logged-in browser tab per role and language, opened on first use."""
    tabs = {}

    def tab_for(role: str, language: str, *, large: bool = False):
        if (role, language, large) not in tabs:
            context = browser.new_context(base_url=live_server,
                                          viewport={"width": 1280, "height": 900},
                                          locale="ja-JP" if language == "ja" else "en-GB")
            tab = context.new_page()
            tab.set_default_timeout(15_000)
            log_in(tab, f"a11y_large_{language}" if large else f"a11y_{role}_{language}")
            tabs[role, language, large] = tab
        return tabs[role, language, large]

    yield tab_for
    for tab in tabs.values():
        tab.context.close()


def _url(endpoint: str, ids: dict) -> str:
    paths = {
        # The work screen with a caller's record open: the line and the screen pop together.
        "console.work": f"/console/work?resident={ids['resident_id']}&day={ids['day']}",
        "console.residents": "/console/residents",
        "console.resident": f"/console/residents/{ids['resident_id']}?day={ids['day']}",
        "console.inquiries": "/console/inquiries",
        "console.inquiry": f"/console/inquiries/{ids['inquiry_id']}",
        "console.new_inquiry": "/console/inquiries/new", "console.my_settings": "/console/me",
        "console.faq": "/console/faq", "console.faq_edit": f"/console/faq/{ids['entry_id']}",
        "console.live": "/console/live", "console.history_charts": "/console/history",
        "console.reports": "/console/reports", "console.exports_page": "/console/reports/exports",
        "console.inquiry_analytics_page": "/console/reports/inquiries",
        "console.capacity_ledger_page": "/console/reports/ledger",
        "console.menu_print_page": "/console/reports/menu",
        "console.users": "/console/admin/users", "console.audit": "/console/admin/audit",
        "console.user_sessions": f"/console/admin/users/{ids['operator_id']}/sessions",
    }
    return paths[endpoint]


def _open(tab, endpoint: str, ids: dict):
    """Open the page as a person would; the resident search with its results (it is posted,
    so no address holds what was searched)."""
    response = tab.goto(_url(endpoint, ids))
    if endpoint != "console.residents":
        return response
    tab.fill("#q", "佐藤")
    with tab.expect_navigation() as searched:
        tab.press("#q", "Enter")
    assert tab.locator("table.list tbody tr").count() > 0, "the search found nobody"
    return searched.value


def _after_a_live_update(tab, endpoint: str, scene) -> None:
    """Change the line now and wait until the open page shows the change it was pushed."""
    with scene["db"]() as session:
        if endpoint == "console.work":
            call = _hold(session, 0.5)
            request = _callback(session)
            notify_line_changed(scene["redis"])
            tab.wait_for_selector(f"#holders-list tr[data-call='{call.id}']")
            tab.wait_for_selector(f"#callbacks-list tr[data-callback='{request.id}']")
            assert tab.locator("#pop-bookings, #pop-slot-list").count() == 2
        elif endpoint == "console.live":
            shown = tab.locator("#live-alerts li.alert").count()
            session.add(AlertEvent(metric="holding_now", level="amber", value=3, threshold=3))
            session.commit()
            notify_line_changed(scene["redis"])
            tab.wait_for_function("(n) => document.querySelectorAll('#live-alerts li.alert')"
                                  ".length > n", arg=shown)


def _violations(tab) -> list[str]:
    results = Axe().run(tab, options={"runOnly": {"type": "tag", "values": RULE_TAGS},
                                      "resultTypes": ["violations"]})
    return [f"{v['id']} ({v['impact']}): {v['help']} — "
            + "; ".join(" ".join(node["target"]) for node in v["nodes"][:5])
            for v in results.response["violations"]]


@pytest.mark.parametrize(("role", "language", "endpoint"), _scans())
def test_the_page_has_no_wcag_21_aa_violation(signed_in, scene, role, language, endpoint):
    tab = signed_in(role, language)
    response = _open(tab, endpoint, scene["ids"])
    assert response.status == 200, f"{endpoint} answered {response.status}"
    assert tab.locator("html").get_attribute("lang") == language
    _after_a_live_update(tab, endpoint, scene)
    found = _violations(tab)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_login_page_has_no_wcag_21_aa_violation(browser, live_server, scene, language):
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    try:
        tab = context.new_page()
        tab.goto(f"/console/login?lang={language}")
        assert tab.locator("html").get_attribute("lang") == language
        found = _violations(tab)
        assert not found, "\n".join(found)
        # And as it comes back after a wrong password, with its message.
        tab.fill("#username", f"a11y_operator_{language}")
        tab.fill("#password", "not the password")
        with tab.expect_navigation():
            tab.click("form button[type=submit]")
        assert "/console/login" in tab.url
        found = _violations(tab)
        assert not found, "\n".join(found)
    finally:
        context.close()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("path", "status"), [("/console/live", 403),
                                              ("/console/no-such-page", 404)])
def test_the_pages_that_refuse_or_find_nothing_have_no_wcag_21_aa_violation(
        signed_in, scene, language, path, status):
    tab = signed_in("operator", language)  # an operator may not open the live board
    assert tab.goto(path).status == status
    assert tab.locator("html").get_attribute("lang") == language
    found = _violations(tab)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_page_after_an_expired_form_has_no_wcag_21_aa_violation(signed_in, scene,
                                                                     language):
    tab = signed_in("operator", language)
    tab.goto("/console/me")
    with tab.expect_navigation() as sent:
        tab.evaluate("""() => { const form = document.getElementById('my-large-text').form;
            form.querySelectorAll('[name=csrf_token]').forEach((el) => el.remove());
            form.submit(); }""")
    assert sent.value.status == 400
    found = _violations(tab)
    assert not found, "\n".join(found)


@pytest.mark.parametrize(("language", "endpoint"), [
    (language, endpoint) for language in LANGUAGES for endpoint in PAGES
    if ROLE_RANK["supervisor"] >= ROLE_RANK[PAGES[endpoint]]])
def test_the_page_in_larger_text_has_no_wcag_21_aa_violation(signed_in, scene, language,
                                                            endpoint):
    tab = signed_in("supervisor", language, large=True)
    assert _open(tab, endpoint, scene["ids"]).status == 200
    assert tab.evaluate("getComputedStyle(document.documentElement).fontSize") == "26px"
    _after_a_live_update(tab, endpoint, scene)
    found = _violations(tab)
    assert not found, "\n".join(found)


@pytest.mark.parametrize(("language", "amber", "red"), [("ja", "注意", "超過"),
                                                        ("en", "CAUTION", "OVER LIMIT")])
def test_amber_and_red_tiles_say_so_in_words_not_by_colour_alone(signed_in, scene, language,
                                                                amber, red):
    tab = signed_in("supervisor", language)
    tab.goto("/console/live")
    _after_a_live_update(tab, "console.live", scene)
    words = tab.evaluate("""() => [...document.querySelectorAll('[data-tile]')].map(
        (tile) => [tile.dataset.level, tile.querySelector('.tile-level').innerText.trim()])""")
    levels = {level for level, _ in words}
    assert {"amber", "red"} <= levels, words
    for level, said in words:
        assert said == {"ok": "", "amber": amber, "red": red}[level], (level, said)


# On a 1080p wall screen of about 50 inches a pixel is 0.58 mm: 32px words stand about 18 mm,
# 64px numbers 37 mm; that is what a supervisor reads from 3 m away.
WALL_SIZES = {".tile-label": 32, ".tile-level": 32, ".tile-value": 64, "#live-alerts li": 32,
              ".live h1, .live h2": 32, "#live-board *": 24}


def test_the_wall_screen_is_readable_from_three_metres(signed_in, scene):
    tab = signed_in("supervisor", "ja")
    tab.set_viewport_size({"width": 1920, "height": 1080})
    try:
        tab.goto("/console/live")
        _after_a_live_update(tab, "console.live", scene)
        for selector, least in WALL_SIZES.items():
            smallest = tab.evaluate("""(selector) => Math.min(...[...document.querySelectorAll(
                selector)].filter((el) => [...el.childNodes].some(
                    (n) => n.nodeType === 3 && n.textContent.trim()))
                .map((el) => parseFloat(getComputedStyle(el).fontSize)))""", selector)
            assert smallest >= least, f"{selector}: {smallest}px, under {least}px"
    finally:
        tab.set_viewport_size({"width": 1280, "height": 900})
