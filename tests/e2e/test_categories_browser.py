"""The category list in a real browser: an operator picks a category by its name from the city's
list, and finds the case again by that category."""

from __future__ import annotations

from sqlalchemy import select

from madoguchi.models import Inquiry
from tests.e2e.conftest import log_in
from tests.e2e.test_console_browser import LANDING, city  # noqa: F401 (city is a fixture)


def test_an_operator_files_a_case_under_a_category_of_the_list(page, city, committed_db,  # noqa: F811
                                                               screenshot):
    log_in(page, "yamada", lands_on=LANDING)
    page.goto("/console/inquiries/new")
    names = page.locator("#category option:not([disabled])").all_inner_texts()
    assert names == ["ワクチン", "ごみ", "道路", "税", "福祉", "留守番電話", "折り返し不通",
                     "その他"]
    page.select_option("#category", label="ごみ")
    page.fill("#subject", "粗大ごみの回収日を知りたい")
    page.click("form.card button[type=submit]")
    reference = page.locator("#inquiry-reference").inner_text().strip()
    with committed_db() as session:
        saved = session.scalar(select(Inquiry).where(Inquiry.reference == reference))
        assert saved.category == "waste"
    assert "ごみ" in page.locator("dl.facts").inner_text()
    page.goto("/console/inquiries")
    page.select_option("#category", label="ごみ")
    page.click("form.search button[type=submit]")
    page.wait_for_url("**category=waste**")
    rows = page.locator("#inquiry-list tbody tr")
    assert rows.count() >= 1
    assert all("ごみ" in text for text in rows.all_inner_texts())
    screenshot(page, "inquiries-by-category")
