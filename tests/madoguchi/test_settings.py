"""Settings: every wrong value or unknown key stops every command with one clear line (exit 2)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from madoguchi.cli import main
from madoguchi.settings import SettingsError, load_settings
from tests.conftest import TEST_DATA_KEYS, TEST_INDEX_KEY

ROOT = Path(__file__).resolve().parents[2]
CONFIG_TEXT = (ROOT / "config.toml").read_text(encoding="utf-8")
MADOGUCHI_SCRIPT = Path(sys.executable).parent / "madoguchi"

# (section, line in config.toml, wrong replacement, dotted key named, words of the expectation)
BAD_VALUES = [
    ("city", 'timezone = "Asia/Tokyo"', 'timezone = "Mars/Olympus"', "city.timezone", "time zone"),
    ("languages", 'offered = ["ja", "en"]', "offered = []", "languages.offered", "at least 1"),
    ("hours", 'monday = "08:30-17:15"', 'monday = "8:30 to 5"', "hours.monday", "HH:MM-HH:MM"),
    ("menu", "timeout_seconds = 8", "timeout_seconds = 60", "menu.timeout_seconds", "15"),
    ("queue", "callback_max_attempts = 3", "callback_max_attempts = 0",
     "queue.callback_max_attempts", "greater than or equal to 1"),
    ("booking", "slot_capacity = 10", 'slot_capacity = "ten"', "booking.slot_capacity",
     "integer"),
    ("prompts", 'audio_dir = ""', "audio_dir = 5", "prompts.audio_dir", "string"),
    ("privacy", "retention_days = 365", "retention_days = 0", "privacy.retention_days",
     "greater than or equal to 1"),
    ("inquiries", "voicemail_due_hours = 24", "voicemail_due_hours = 0",
     "inquiries.voicemail_due_hours", "greater than or equal to 1"),
    ("supervisor", "staffing_window_minutes = 30", "staffing_window_minutes = 90",
     "supervisor.staffing_window_minutes", "less than or equal to 60"),
]
SECTIONS = [section for section, *_ in BAD_VALUES]


def _write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _with_bad_value(line: str, replacement: str) -> str:
    assert CONFIG_TEXT.count(f"\n{line}\n") == 1, f"config.toml no longer has {line!r}"
    return CONFIG_TEXT.replace(f"\n{line}\n", f"\n{replacement}\n")


def _with_unknown_key(section: str) -> str:
    header = f"\n[{section}]\n"
    assert header in CONFIG_TEXT
    return CONFIG_TEXT.replace(header, f'{header}colour = "blue"\n')


def _run(base_env: dict[str, str], config: Path, *args: str):
    env = {**base_env, "MADOGUCHI_CONFIG": str(config)}
    return CliRunner().invoke(main, list(args), env=env)


def _assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize(("section", "line", "replacement", "key", "expected"), BAD_VALUES,
                         ids=SECTIONS)
def test_a_wrong_value_in_any_section_stops_with_one_line_naming_file_key_and_expectation(
    tmp_path, base_env, section, line, replacement, key, expected
):
    config = _write_config(tmp_path, _with_bad_value(line, replacement))
    result = _run(base_env, config, "db", "upgrade")
    _assert_one_line_error(result, str(config), key, expected)


@pytest.mark.parametrize("section", SECTIONS)
def test_an_unknown_key_in_any_section_stops_with_one_line_naming_it(
    tmp_path, base_env, section
):
    config = _write_config(tmp_path, _with_unknown_key(section))
    result = _run(base_env, config, "db", "upgrade")
    _assert_one_line_error(result, str(config), f"{section}.colour", "unknown key")


@pytest.mark.parametrize(
    "command",
    [["serve"], ["worker", "--burst"], ["reconcile"], ["demo-data"],
     ["create-user", "kato", "--role", "operator", "--password-stdin"]],
    ids=lambda command: command[0],
)
def test_every_command_reports_a_settings_error_the_same_way(tmp_path, base_env, command):
    config = _write_config(tmp_path, _with_bad_value("slot_minutes = 30", "slot_minutes = 1"))
    result = _run(base_env, config, *command)
    _assert_one_line_error(result, str(config), "booking.slot_minutes")


def test_invalid_toml_is_reported_on_one_line(tmp_path, base_env):
    config = _write_config(tmp_path, CONFIG_TEXT.replace("[menu]", "[menu", 1))
    result = _run(base_env, config, "reconcile")
    _assert_one_line_error(result, str(config), "not valid TOML")


def test_a_missing_config_file_says_how_to_point_at_one(tmp_path, base_env):
    result = _run(base_env, tmp_path / "nowhere.toml", "reconcile")
    _assert_one_line_error(result, "nowhere.toml", "MADOGUCHI_CONFIG")


def test_the_installed_script_prints_one_line_and_exits_2_without_traceback(tmp_path, base_env):
    config = _write_config(tmp_path, _with_unknown_key("queue"))
    completed = subprocess.run(
        [str(MADOGUCHI_SCRIPT), "reconcile"],
        env={**base_env, "MADOGUCHI_CONFIG": str(config), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr.count("\n") == 1
    assert re.fullmatch(rf"Error: {re.escape(str(config))}: queue\.colour: unknown key.*\n",
                        completed.stderr)


def test_the_installed_script_rejects_an_unsupported_database_url(base_env):
    completed = subprocess.run(
        [str(MADOGUCHI_SCRIPT), "db", "upgrade"],
        env={**base_env, "DATABASE_URL": "mysql://root@localhost/city", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1
    assert completed.stderr.startswith("Error: DATABASE_URL: expected sqlite:///path or postgresql")


# --- environment overrides (secrets and addresses never live in config.toml) -----------------


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {"MADOGUCHI_CONFIG": str(ROOT / "config.toml"), "MADOGUCHI_VAR_DIR": str(tmp_path)}
    env.update(extra)
    return env


def test_without_environment_the_database_is_sqlite_in_the_var_dir(tmp_path):
    settings = load_settings(env=_env(tmp_path))
    assert settings.secrets.database_url == f"sqlite:///{tmp_path / 'madoguchi.db'}"
    assert settings.var_dir == tmp_path
    assert settings.secrets.redis_url is None
    assert settings.secrets.public_base_url == "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://u:p@db.example/city", "postgresql+psycopg://u:p@db.example/city"),
        ("postgresql://u@db.example/city", "postgresql+psycopg://u@db.example/city"),
        ("sqlite:///srv/madoguchi.db", "sqlite:///srv/madoguchi.db"),
    ],
)
def test_database_url_from_the_environment_is_used_with_the_psycopg_driver(tmp_path, given, used):
    env = _env(tmp_path, DATABASE_URL=given, MADOGUCHI_DATA_KEYS=TEST_DATA_KEYS,
               MADOGUCHI_INDEX_KEY=TEST_INDEX_KEY)
    assert load_settings(env=env).secrets.database_url == used


def test_redis_public_url_secret_and_api_token_come_from_the_environment(tmp_path):
    settings = load_settings(env=_env(
        tmp_path, REDIS_URL="redis://cache.example:6379/3",
        PUBLIC_BASE_URL="https://madoguchi.city.example/", SECRET_KEY="s3cret",
        MADOGUCHI_API_TOKEN="token-1",
    ))
    assert settings.secrets.redis_url == "redis://cache.example:6379/3"
    assert settings.secrets.public_base_url == "https://madoguchi.city.example"
    assert settings.secrets.secret_key == "s3cret"
    assert settings.secrets.api_token == "token-1"


def test_without_secret_key_a_stable_one_is_kept_in_the_var_dir(tmp_path):
    first = load_settings(env=_env(tmp_path)).secrets.secret_key
    assert len(first) >= 32
    assert load_settings(env=_env(tmp_path)).secrets.secret_key == first


def test_twilio_credentials_select_twilio_and_must_come_together(tmp_path):
    sid = "AC" + "0123456789abcdef" * 2
    assert load_settings(
        env=_env(tmp_path, TWILIO_ACCOUNT_SID=sid, TWILIO_AUTH_TOKEN="t")
    ).uses_twilio
    assert not load_settings(env=_env(tmp_path)).uses_twilio
    with pytest.raises(SettingsError, match=r"^TWILIO_AUTH_TOKEN: required"):
        load_settings(env=_env(tmp_path, TWILIO_ACCOUNT_SID=sid))
    with pytest.raises(SettingsError, match=r"^TWILIO_ACCOUNT_SID: expected AC"):
        load_settings(env=_env(tmp_path, TWILIO_ACCOUNT_SID="AC123", TWILIO_AUTH_TOKEN="t"))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DATABASE_URL", "mysql://root@localhost/city", "^DATABASE_URL: expected"),
        ("PUBLIC_BASE_URL", "madoguchi.city.example", "^PUBLIC_BASE_URL: expected"),
    ],
)
def test_a_wrong_environment_value_names_the_variable(tmp_path, name, value, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(env=_env(tmp_path, **{name: value}))


def test_madoguchi_config_points_at_another_file(tmp_path):
    config = _write_config(tmp_path, CONFIG_TEXT.replace('name_en = "Midori City"',
                                                         'name_en = "Aoba City"'))
    assert load_settings(env=_env(tmp_path, MADOGUCHI_CONFIG=str(config))).city.name_en == (
        "Aoba City"
    )
