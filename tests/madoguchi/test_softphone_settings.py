"""The browser softphone's secrets: all three or none, the right shape, and only with Twilio."""

from __future__ import annotations

import pytest

from madoguchi.settings import SettingsError, load_settings
from tests.conftest import ROOT

TWILIO = {"TWILIO_ACCOUNT_SID": "AC" + "ab" * 16, "TWILIO_AUTH_TOKEN": "token"}
SOFTPHONE = {
    "TWILIO_API_KEY_SID": "SK" + "cd" * 16,
    "TWILIO_API_KEY_SECRET": "ApiKeySecret0123456789abcdefghij",
    "TWILIO_TWIML_APP_SID": "AP" + "ef" * 16,
}


def _load(tmp_path, **env):
    return load_settings(env={"MADOGUCHI_CONFIG": str(ROOT / "config.toml"),
                              "MADOGUCHI_VAR_DIR": str(tmp_path), **env})


def test_with_twilio_and_all_three_variables_the_softphone_is_configured(tmp_path):
    settings = _load(tmp_path, **TWILIO, **SOFTPHONE)
    assert settings.softphone_configured
    assert settings.secrets.twilio_twiml_app_sid == SOFTPHONE["TWILIO_TWIML_APP_SID"]


def test_without_the_variables_there_is_no_softphone(tmp_path):
    assert not _load(tmp_path).softphone_configured
    assert not _load(tmp_path, **TWILIO).softphone_configured


@pytest.mark.parametrize("missing", sorted(SOFTPHONE))
def test_a_missing_softphone_variable_is_named(tmp_path, missing):
    partial = {name: value for name, value in SOFTPHONE.items() if name != missing}
    with pytest.raises(SettingsError, match=f"^{missing}: required when"):
        _load(tmp_path, **TWILIO, **partial)


def test_a_wrongly_shaped_api_key_sid_says_what_is_expected(tmp_path):
    with pytest.raises(SettingsError, match="TWILIO_API_KEY_SID: expected SK followed by 32 hex"):
        _load(tmp_path, **TWILIO, **{**SOFTPHONE, "TWILIO_API_KEY_SID": "AC" + "cd" * 16})


def test_the_softphone_needs_a_twilio_account(tmp_path):
    with pytest.raises(SettingsError, match="TWILIO_ACCOUNT_SID: required for the browser"):
        _load(tmp_path, **SOFTPHONE)


def test_an_api_key_secret_that_is_not_twilios_shape_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="TWILIO_API_KEY_SECRET: expected the API key's secret"):
        _load(tmp_path, **TWILIO, **{**SOFTPHONE, "TWILIO_API_KEY_SECRET": "short secret"})
