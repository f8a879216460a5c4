"""A wrong key stops Madoguchi at start with one clear line, never garbage or silence later."""

from __future__ import annotations

import base64
import secrets

import pytest
from click.testing import CliRunner
from sqlalchemy import delete

from madoguchi import create_app, sealing
from madoguchi.cli import main
from madoguchi.models import SealingCanary
from madoguchi.sealing import canary
from madoguchi.sealing.canary import WrongKeys
from madoguchi.settings import load_settings
from tests import factories
from tests.conftest import TEST_DATA_KEYS, TEST_INDEX_KEY


def _other_key(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


@pytest.fixture
def sealed_database(committed_db, engine, sealing_keys):
    """The test database with its canary written under the suite's keys."""
    canary.verify(engine, sealing_keys)
    yield engine
    sealing.install(sealing_keys)


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("MADOGUCHI_DATA_KEYS", _other_key("t1"),
     r"^MADOGUCHI_DATA_KEYS: data key 't1' does not open this database's sealed values"),
    ("MADOGUCHI_DATA_KEYS", _other_key("k7"),
     r"^MADOGUCHI_DATA_KEYS: this database is sealed with data key 't1', which is not among "
     r"the keys given \(k7\)"),
    ("MADOGUCHI_INDEX_KEY", _other_key("x1"),
     r"^MADOGUCHI_INDEX_KEY: index key 'x1' is not the key this database's search index"),
    ("MADOGUCHI_INDEX_KEY", _other_key("x5"),
     r"^MADOGUCHI_INDEX_KEY: this database's search index is keyed with index key 'x1'"),
])
def test_the_app_refuses_to_start_with_keys_that_are_not_the_database_s(
        sealed_database, base_env, variable, value, says):
    settings = load_settings(env={**base_env, variable: value})
    before = sealing.current()
    with pytest.raises(WrongKeys, match=says):
        create_app(settings)
    assert sealing.current() is before, "the refused keys were never installed"


def test_an_older_key_given_after_the_right_one_still_starts(sealed_database, base_env):
    settings = load_settings(env={**base_env,
                                  "MADOGUCHI_DATA_KEYS": f"{_other_key('t2')},{TEST_DATA_KEYS}",
                                  "MADOGUCHI_INDEX_KEY": f"{_other_key('x2')},{TEST_INDEX_KEY}"})
    assert create_app(settings) is not None


def test_every_command_says_so_in_one_line_and_exits_2(sealed_database, base_env):
    result = CliRunner().invoke(main, ["reconcile"], env={
        **base_env, "MADOGUCHI_DATA_KEYS": _other_key("t1")})
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert result.output.startswith("Error: MADOGUCHI_DATA_KEYS: data key 't1' does not open")


def test_without_its_canary_a_database_is_checked_against_a_sealed_resident(
        sealed_database, committed_db, base_env):
    with committed_db() as session:
        factories.resident(session, name="確認 一郎")
        session.execute(delete(SealingCanary))
        session.commit()
    settings = load_settings(env={**base_env, "MADOGUCHI_DATA_KEYS": _other_key("t1")})
    with pytest.raises(WrongKeys, match="'t1' does not open"):
        create_app(settings)
