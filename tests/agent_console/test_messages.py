"""The console's message catalogues: both languages complete and alike, the shipped .mo current."""

from __future__ import annotations

import io
import string
import tomllib
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

import agent_console
from agent_console.i18n import LANGUAGES, catalogue_path, messages, translate

PACKAGE = Path(agent_console.__file__).parent


def placeholders(text: str) -> set[str]:
    """The {names} a message fills in."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def read_catalogue(language: str):
    """The editable .po catalogue of a language."""
    with catalogue_path(language, ".po").open("rb") as source:
        return read_po(source, locale=language)


def compiled(catalogue) -> dict[str, str]:
    """The messages a catalogue compiles to, read back as pybabel compile would write them."""
    buffer = io.BytesIO()
    write_mo(buffer, catalogue)
    buffer.seek(0)
    return {m.id: m.string for m in read_mo(buffer) if m.id}


def test_both_languages_have_the_same_message_keys():
    assert set(messages("ja")) == set(messages("en"))
    assert len(messages("ja")) > 400


def test_both_languages_use_the_same_placeholders_for_each_message():
    for key, text in messages("ja").items():
        assert placeholders(text) == placeholders(messages("en")[key]), key


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_shipped_mo_file_holds_exactly_what_its_po_file_says(language):
    with catalogue_path(language).open("rb") as shipped:
        committed = {m.id: m.string for m in read_mo(shipped) if m.id}
    assert committed == compiled(read_catalogue(language)), (
        f"{catalogue_path(language)} is stale: run pybabel compile -d agent_console/translations")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_po_entry_has_a_text_and_none_is_left_fuzzy(language):
    # pybabel compile leaves empty and fuzzy entries out of the .mo without a word.
    for message in read_catalogue(language):
        if message.id:
            assert message.string and not message.fuzzy, message.id


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_with_placeholders_is_flagged_brace_format_for_translators(language):
    with catalogue_path(language, ".po").open(encoding="utf-8") as source:
        text = source.read()
    for key, message in messages(language).items():
        if placeholders(message):
            assert f'#, python-brace-format\nmsgid "{key}"\n' in text, key


def test_every_message_key_used_in_the_templates_and_code_exists():
    with (PACKAGE / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    keywords = {**DEFAULT_KEYWORDS, "translate": None, "t": None}
    used = {message for _, _, message, _, _ in extract_from_dir(
        str(PACKAGE), method_map, options_map, keywords=keywords)}
    templates_only = {message for _, _, message, _, _ in extract_from_dir(
        str(PACKAGE), [m for m in method_map if m[1] == "jinja2"], options_map,
        keywords=keywords)}
    assert {"app_title", "alert_sms", "wrap_up_saved"} <= used
    assert "login_title" in templates_only
    assert used - set(messages("ja")) == set()


def test_every_value_the_console_names_by_a_composed_key_has_a_name_in_both_languages():
    from agent_console.services.appointments import KNOWN_REASONS
    from agent_console.services.capacity_ledger import COUNT_FIELDS
    from agent_console.services.exports import KINDS
    from agent_console.services.inquiry_analytics import GRANULARITIES
    from agent_console.services.line_board import OPERATOR_STATES
    from agent_console.services.line_view import WAITING_CALLBACK_STATUSES
    from agent_console.services.work_desk import DISPOSITIONS
    from call_queue.line_metrics.levels import LEVEL_RANK
    from call_queue.line_metrics.snapshot import THRESHOLD_METRICS
    from call_queue.operators import STATES
    from call_queue.taking import OWN_STATES
    from madoguchi.models import BOOKING_STATUSES, INQUIRY_STATUSES, ROLES

    families = {
        "booking_status_": BOOKING_STATUSES, "inquiry_status_": INQUIRY_STATUSES,
        "role_": ROLES, "disposition_": DISPOSITIONS, "state_": STATES,
        "state_now_": OWN_STATES, "level_": LEVEL_RANK, "ledger_": COUNT_FIELDS,
        "reason_": KNOWN_REASONS, "export_": KINDS, "per_": GRANULARITIES,
        "callback_status_": WAITING_CALLBACK_STATUSES,
        "tile_": (*THRESHOLD_METRICS, *(f"operators_{s}" for s in OPERATOR_STATES)),
    }
    keys = {prefix + value for prefix, values in families.items() for value in values}
    for language in LANGUAGES:
        assert keys - set(messages(language)) == set()


def test_a_missing_message_key_names_itself():
    with pytest.raises(KeyError, match="no_such_key"):
        translate("no_such_key", "en")


def test_an_unknown_language_is_refused_by_name():
    with pytest.raises(KeyError, match="'fr'"):
        translate("app_title", "fr")


def test_messages_are_read_outside_any_request_as_a_worker_does():
    # The line watch job words its SMS alert in an RQ worker, with no app or request around it.
    from flask import has_app_context

    assert not has_app_context()
    assert translate("alert_sms", "ja", city="みどり市", alert="待ち人数 赤") == (
        "みどり市 電話窓口：待ち人数 赤")
    assert translate("alert_sms", "en", city="Midori", alert="x") == "Midori phone line: x"


def test_the_catalogues_are_shipped_with_the_package():
    with (PACKAGE.parent / "pyproject.toml").open("rb") as project:
        shipped = tomllib.load(project)["tool"]["setuptools"]["package-data"]["*"]
    assert {"*.po", "*.mo"} <= set(shipped)
