"""The [supervisor] section: thresholds in a sensible order, and SMS only with a number."""

from __future__ import annotations

import pytest

from madoguchi.settings import SettingsError, load_settings
from tests.conftest import ROOT

CONFIG_TEXT = (ROOT / "config.toml").read_text(encoding="utf-8")


def _load(tmp_path, old: str, new: str):
    assert old in CONFIG_TEXT
    path = tmp_path / "config.toml"
    path.write_text(CONFIG_TEXT.replace(old, new), encoding="utf-8")
    return load_settings(path, env={"MADOGUCHI_VAR_DIR": str(tmp_path / "var")})


def test_the_shipped_configuration_has_the_supervisor_section(tmp_path):
    supervisor = _load(tmp_path, "", "").supervisor
    assert supervisor.service_level_seconds == 60
    assert supervisor.service_level_target_percent == 80
    assert supervisor.thresholds.holding_now.red == 6


def test_a_red_below_amber_is_refused_naming_the_tile(tmp_path):
    with pytest.raises(SettingsError, match=r"supervisor\.thresholds: holding_now: red \(2\) "
                                            r"must be at or above amber \(3\)"):
        _load(tmp_path, "holding_now = { amber = 3, red = 6 }",
              "holding_now = { amber = 3, red = 2 }")


def test_for_the_service_level_red_must_be_below_amber_because_lower_is_worse(tmp_path):
    with pytest.raises(SettingsError, match=r"red .* must be below amber .* lower"):
        _load(tmp_path, "service_level_percent = { amber = 80, red = 60 }",
              "service_level_percent = { amber = 60, red = 80 }")


def test_sms_alerts_need_the_duty_supervisor_s_number(tmp_path):
    with pytest.raises(SettingsError, match="set duty_supervisor_phone"):
        _load(tmp_path, 'notify = ["screen"]', 'notify = ["screen", "sms"]')


def test_a_duty_number_that_is_not_a_phone_number_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="duty_supervisor_phone: not a phone number"):
        _load(tmp_path, 'duty_supervisor_phone = ""', 'duty_supervisor_phone = "12"')


def test_an_unknown_way_of_notifying_is_refused_with_the_choices(tmp_path):
    with pytest.raises(SettingsError, match=r"supervisor\.notify\.0: .*'screen' or 'sms'"):
        _load(tmp_path, 'notify = ["screen"]', 'notify = ["email"]')
