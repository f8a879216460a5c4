"""Keys: their written form, where they come from, and one clear line when they are wrong."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from madoguchi.cli import main
from madoguchi.sealing.keys import KeyFiles, KeyFormatError, parse_keys
from madoguchi.settings import SettingsError, load_settings
from tests.conftest import TEST_DATA_KEYS, TEST_INDEX_KEY

ROOT = Path(__file__).resolve().parents[3]
MADOGUCHI_SCRIPT = Path(sys.executable).parent / "madoguchi"
KEY = base64.b64encode(bytes(range(32))).decode()
URLSAFE_KEY = base64.urlsafe_b64encode(bytes(range(200, 232))).decode().rstrip("=")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"MADOGUCHI_CONFIG": str(ROOT / "config.toml"),
            "MADOGUCHI_VAR_DIR": str(tmp_path / "var"), **extra}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keys_are_read_newest_first_in_standard_or_url_safe_base64():
    keys = parse_keys(f" new:{URLSAFE_KEY} , old:{KEY}")
    assert [key.id for key in keys] == ["new", "old"]
    assert keys[0].secret == bytes(range(200, 232)) and keys[1].secret == bytes(range(32))
    assert parse_keys(f"k2:{KEY}\nk1:{URLSAFE_KEY}\n")[1].id == "k1"


@pytest.mark.parametrize(("spec", "says"), [
    ("", "no key given"),
    (KEY, "entry 1 is not id:base64key"),
    (f"bad id!:{KEY}", "entry 1 is not id:base64key"),
    ("k1:not*base64", "key 'k1' is not valid base64"),
    (f"k1:{base64.b64encode(b'short').decode()}", "key 'k1' is 5 bytes; expected 32"),
    (f"k1:{KEY},k1:{URLSAFE_KEY}", "key id 'k1' appears twice"),
])
def test_a_malformed_key_list_says_what_is_wrong_without_showing_the_key(spec, says):
    with pytest.raises(KeyFormatError) as raised:
        parse_keys(spec)
    assert says in str(raised.value)
    assert KEY not in str(raised.value) and URLSAFE_KEY not in str(raised.value)


@pytest.mark.parametrize("missing", ["MADOGUCHI_DATA_KEYS", "MADOGUCHI_INDEX_KEY"])
def test_with_a_database_url_each_key_variable_is_required(tmp_path, missing):
    env = _env(tmp_path, DATABASE_URL="postgresql://db.example/city",
               MADOGUCHI_DATA_KEYS=TEST_DATA_KEYS, MADOGUCHI_INDEX_KEY=TEST_INDEX_KEY)
    del env[missing]
    with pytest.raises(SettingsError, match=rf"^{missing}: required when DATABASE_URL"):
        load_settings(env=env)
    assert not (tmp_path / "var" / "data_keys").exists(), "no key file with a DATABASE_URL"


def test_a_malformed_key_variable_stops_every_command_with_one_line_and_exit_2(tmp_path):
    completed = subprocess.run(
        [str(MADOGUCHI_SCRIPT), "keys", "status"],
        env={**_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
                    MADOGUCHI_DATA_KEYS="k1:tooshort", MADOGUCHI_INDEX_KEY=TEST_INDEX_KEY),
             "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1
    assert completed.stderr.startswith("Error: MADOGUCHI_DATA_KEYS: key 'k1' is ")
    assert "comma-separated id:base64key" in completed.stderr or "32" in completed.stderr


def test_keys_in_the_environment_are_used_as_given(tmp_path):
    settings = load_settings(env=_env(tmp_path, MADOGUCHI_DATA_KEYS=f"k9:{KEY}",
                                      MADOGUCHI_INDEX_KEY=f"i9:{KEY}"))
    assert settings.secrets.key_folder is None
    assert parse_keys(settings.secrets.data_keys)[0].id == "k9"
    assert KEY not in repr(settings), "key material never appears in a repr"


def test_the_embedded_default_makes_its_keys_once_owner_only_in_a_private_var(tmp_path):
    previous = os.umask(0)  # the most permissive umask: nothing may depend on it
    try:
        first = load_settings(env=_env(tmp_path))
    finally:
        os.umask(previous)
    var = tmp_path / "var"
    files = KeyFiles.in_folder(var)
    assert _mode(var) == 0o700
    for path in (files.data_path, files.index_path, var / "secret_key",
                 var / "simulator_auth_token"):
        assert _mode(path) == 0o600, path
    assert [key.id for key in parse_keys(first.secrets.data_keys)] == ["k1"]
    assert [key.id for key in parse_keys(first.secrets.index_keys)] == ["i1"]
    again = load_settings(env=_env(tmp_path))
    assert again.secrets.data_keys == first.secrets.data_keys, "the keys are made only once"
    assert not [p for p in var.iterdir() if p.name.endswith(".tmp")], "no temporary file left"


def test_an_existing_wide_var_folder_and_secret_file_are_narrowed(tmp_path):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    load_settings(env=_env(tmp_path))
    assert _mode(var) == 0o700


def test_a_key_file_somebody_else_made_first_is_never_overwritten(tmp_path):
    files = KeyFiles.in_folder(tmp_path)
    tmp_path.chmod(0o700)
    files.data_path.write_text(f"mine:{KEY}\n")
    files.ensure()
    assert files.data_path.read_text() == f"mine:{KEY}\n"


def test_keys_generate_prints_a_usable_key_with_a_dated_or_given_id():
    runner = CliRunner()
    made = runner.invoke(main, ["keys", "generate"])
    assert made.exit_code == 0
    (key,) = parse_keys(made.output)
    assert len(key.secret) == 32 and key.id[:8].isdigit()
    named = runner.invoke(main, ["keys", "generate", "--id", "2025q3"])
    assert parse_keys(named.output)[0].id == "2025q3"
    assert runner.invoke(main, ["keys", "generate", "--id", "no spaces"]).exit_code == 2
