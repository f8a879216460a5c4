"""Odd but harmless console inputs an audit found answering 500: now a page or a clear 4xx."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("url", [
    "/console/work?resident=²",
    "/console/work?resident=99999999999999999999999",
    "/console/residents?site=١٢&day=0001-01-01",
    "/console/admin/audit?before=²&resident=-1",
])
def test_odd_query_values_are_ignored_and_the_page_opens(as_admin, url):
    assert as_admin.get(url).status_code == 200, url


@pytest.mark.parametrize("url", [
    "/console/residents/99999999999999999999999",
    "/console/inquiries/99999999999999999999999",
    "/console/residents/2147483648",
    "/console/residents/²",
])
def test_an_id_no_database_column_can_hold_is_simply_not_found(as_admin, url):
    response = as_admin.get(url)
    assert response.status_code == 404, url
    assert "見つかりませんでした" in response.get_data(as_text=True) or "Not found" in (
        response.get_data(as_text=True))


@pytest.mark.parametrize("query", [
    "kind=calls&from=0001-01-01&to=9999-12-31", "kind=inquiries&from=2026-02-30",
    "kind=calls&from=²",
])
def test_an_export_of_far_or_impossible_days_says_how_to_write_a_date(as_supervisor, query):
    response = as_supervisor.get(f"/console/reports/export.csv?{query}")
    assert response.status_code == 400, query
    assert "1900年から2199年" in response.get_data(as_text=True)
