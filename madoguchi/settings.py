"""Load config.toml and the environment into one typed, validated settings object."""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from datetime import date, time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from madoguchi import phone
from madoguchi.private_files import create_private_file_once, ensure_private_dir
from madoguchi.sealing.keys import (
    DATA_KEYS_VARIABLE,
    INDEX_KEY_VARIABLE,
    KEY_FORM,
    KeyFiles,
    KeyFormatError,
    parse_keys,
)

MENU_CHOICES = ("book", "check", "faq", "operator")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HOURS_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
_KEY = Annotated[str, Field(pattern=r"^[0-9]$")]


class SettingsError(Exception):
    """A setting is missing or wrong; the message is one line a clerk can act on."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CitySettings(_Section):
    """Who the city is and where it is."""

    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    phone_number: str = ""
    timezone: str = "Asia/Tokyo"
    region: str = Field(default="JP", pattern=r"^[A-Z]{2}$")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("a time zone name such as \"Asia/Tokyo\"") from exc
        return value


class LanguageSettings(_Section):
    """Which languages the line speaks."""

    default: str = "ja"
    offered: list[str] = Field(default_factory=lambda: ["ja", "en"], min_length=1)

    @model_validator(mode="after")
    def _default_is_offered(self) -> LanguageSettings:
        if self.default not in self.offered:
            raise ValueError(f"default language {self.default!r} must be one of offered")
        return self


class HoursSettings(_Section):
    """Opening hours of the phone line."""

    monday: str = ""
    tuesday: str = ""
    wednesday: str = ""
    thursday: str = ""
    friday: str = ""
    saturday: str = ""
    sunday: str = ""
    closed_on_public_holidays: bool = True
    closed_days: list[date] = Field(default_factory=list)
    always_open: bool = False

    @field_validator(*WEEKDAYS)
    @classmethod
    def _hours_range(cls, value: str) -> str:
        if value and not _HOURS_RE.match(value):
            raise ValueError('opening hours as "HH:MM-HH:MM" (e.g. "08:30-17:15") or ""')
        if value:
            start, end = value.split("-")
            if start >= end:
                raise ValueError("opening time must be before closing time")
        return value

    def for_weekday(self, weekday: int) -> tuple[time, time] | None:
        """Opening and closing time for a weekday (0 = Monday), or None when closed."""
        value = getattr(self, WEEKDAYS[weekday])
        if not value:
            return None
        start, end = value.split("-")
        end_time = time(23, 59, 59) if end == "24:00" else time.fromisoformat(end)
        return time.fromisoformat(start), end_time


class MenuSettings(_Section):
    """The main menu and how patiently it listens."""

    options: list[Literal["book", "check", "faq", "operator"]] = Field(
        default_factory=lambda: list(MENU_CHOICES), min_length=1, max_length=4
    )
    repeat_key: _KEY = "9"
    operator_key: _KEY = "0"
    timeout_seconds: int = Field(default=8, ge=3, le=15)
    max_retries: int = Field(default=2, ge=1, le=3)
    speech_rate_percent: int = Field(default=90, ge=70, le=100)
    pause_ms: int = Field(default=500, ge=0, le=2000)

    @model_validator(mode="after")
    def _distinct(self) -> MenuSettings:
        if len(set(self.options)) != len(self.options):
            raise ValueError("each menu option may appear only once")
        if self.repeat_key == self.operator_key:
            raise ValueError("repeat_key and operator_key must be different keys")
        return self


class QueueSettings(_Section):
    """The line of callers waiting for a person, and callbacks."""

    wrap_up_seconds: int = Field(default=60, ge=0, le=3600)
    announcement_interval_seconds: int = Field(default=60, ge=15, le=600)
    callback_max_attempts: int = Field(default=3, ge=1, le=10)
    # Fractions are allowed so that tests can retry within seconds.
    callback_retry_minutes: float = Field(default=10, gt=0, le=240)
    callback_ring_seconds: int = Field(default=40, ge=10, le=120)
    return_window_minutes: int = Field(default=10, ge=0, le=120)
    outbound_calls_per_second: float = Field(default=1.0, gt=0, le=100)
    fallback_number: str = ""
    callback_windows: list[str] = Field(
        default_factory=lambda: ["09:00-11:00", "14:00-16:00"], max_length=6)

    @field_validator("callback_windows")
    @classmethod
    def _one_or_two_hours(cls, windows: list[str]) -> list[str]:
        for value in windows:
            if not _HOURS_RE.match(value) or value.endswith("24:00"):
                raise ValueError(f'{value!r}: a window as "HH:MM-HH:MM", e.g. "14:00-16:00"')
            start, end = (time.fromisoformat(part) for part in value.split("-"))
            minutes = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
            if minutes not in (60, 120):
                raise ValueError(f"{value!r}: a callback window lasts 1 or 2 hours")
        return sorted(windows)

    def window_times(self) -> list[tuple[time, time]]:
        """The daily callback windows as (start, end) local times, earliest first."""
        return [tuple(time.fromisoformat(part) for part in value.split("-"))
                for value in self.callback_windows]


class BookingSettings(_Section):
    """Rules for appointments."""

    hold_minutes: int = Field(default=10, ge=1, le=120)
    slot_minutes: int = Field(default=30, ge=5, le=240)
    slot_capacity: int = Field(default=10, ge=1, le=10000)
    booking_window_days: int = Field(default=14, ge=1, le=366)
    slots_offered: int = Field(default=3, ge=1, le=4)


class PromptSettings(_Section):
    """Where recorded audio for prompts lives, if any."""

    audio_dir: str = ""
    audio_base_url: str = ""


class PrivacySettings(_Section):
    """How long personal data is kept."""

    retention_days: int = Field(default=365, ge=1, le=3650)


class WebSettings(_Section):
    """How the web tier is reached."""

    # How many reverse proxies (load balancer, nginx) stand in front and add X-Forwarded-For;
    # 0 trusts none, so a client cannot choose the address the audit log and login limit see.
    trusted_proxies: int = Field(default=0, ge=0, le=5)


class Threshold(_Section):
    """The values at which a supervisor's tile turns amber and red."""

    amber: float = Field(ge=0)
    red: float = Field(ge=0)


# Tiles where a lower number is the worse one (the others get worse as they grow).
LOWER_IS_WORSE = ("service_level_percent",)


class ThresholdSettings(_Section):
    """Amber and red levels of the supervisors' live tiles."""

    holding_now: Threshold = Threshold(amber=3, red=6)
    longest_wait_seconds: Threshold = Threshold(amber=120, red=300)
    callbacks_overdue: Threshold = Threshold(amber=1, red=3)
    abandoned_rate_percent: Threshold = Threshold(amber=5, red=10)
    service_level_percent: Threshold = Threshold(amber=80, red=60)
    average_speed_of_answer_seconds: Threshold = Threshold(amber=30, red=60)

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdSettings:
        for name in type(self).model_fields:
            level = getattr(self, name)
            if name in LOWER_IS_WORSE and level.red > level.amber:
                raise ValueError(f"{name}: red ({level.red:g}) must be below amber "
                                 f"({level.amber:g}), since a lower {name} is worse")
            if name not in LOWER_IS_WORSE and level.red < level.amber:
                raise ValueError(f"{name}: red ({level.red:g}) must be at or above amber "
                                 f"({level.amber:g})")
        return self


class SupervisorSettings(_Section):
    """The supervisors' live view: service-level target, thresholds and who is told."""

    service_level_seconds: int = Field(default=60, ge=5, le=3600)
    service_level_target_percent: float = Field(default=80, gt=0, lt=100)
    callback_promise_minutes: int = Field(default=60, ge=5, le=24 * 60)
    staffing_window_minutes: int = Field(default=30, ge=30, le=60)
    # Rates (service level, abandonment, speed of answer) take a colour only from this many
    # callers whose wait ended in the hour: one early hang-up is not a 100% abandonment alarm.
    rates_need_callers: int = Field(default=5, ge=1, le=1000)
    notify: list[Literal["screen", "sms"]] = Field(default_factory=lambda: ["screen"])
    duty_supervisor_phone: str = ""
    thresholds: ThresholdSettings = ThresholdSettings()

    @model_validator(mode="after")
    def _sms_has_a_number(self) -> SupervisorSettings:
        if len(set(self.notify)) != len(self.notify):
            raise ValueError("notify lists each of \"screen\" and \"sms\" at most once")
        if "sms" in self.notify and not self.duty_supervisor_phone.strip():
            raise ValueError('notify includes "sms": set duty_supervisor_phone to the duty '
                             "supervisor's mobile number, or remove \"sms\"")
        if self.duty_supervisor_phone.strip():
            try:
                phone.normalize(self.duty_supervisor_phone)
            except phone.InvalidPhoneNumber as exc:
                raise ValueError(f"duty_supervisor_phone: {exc}") from None
        return self


class CategoryName(_Section):
    """One case category: a short key kept on cases, and its names in Japanese and English."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    ja: str = Field(min_length=1, max_length=40)
    en: str = Field(min_length=1, max_length=40)


# Categories the line itself files cases under; present whatever config.toml lists.
BUILT_IN_CATEGORIES = (
    CategoryName(key="voicemail", ja="留守番電話", en="Voicemail"),
    CategoryName(key="callback", ja="折り返し不通", en="Callback not reached"),
    CategoryName(key="other", ja="その他", en="Other"),
)


class InquirySettings(_Section):
    """Cases: their categories and how soon the line's own cases are due."""

    categories: tuple[CategoryName, ...] = ()
    # Hours until a voicemail case, or the follow-up of a callback never reached, is overdue.
    voicemail_due_hours: int = Field(default=24, ge=1, le=24 * 30)
    callback_due_hours: int = Field(default=24, ge=1, le=24 * 30)
    # How far back the worker looks for recordings left while the database was down.
    recordings_lookback_hours: int = Field(default=72, ge=1, le=24 * 30)

    @model_validator(mode="after")
    def _keys_unique_and_built_ins_present(self) -> InquirySettings:
        keys = [item.key for item in self.categories]
        doubled = sorted({key for key in keys if keys.count(key) > 1})
        if doubled:
            raise ValueError(f"categories: each key only once ({', '.join(doubled)})")
        missing = tuple(item for item in BUILT_IN_CATEGORIES if item.key not in keys)
        if missing:
            # Object is frozen: extend the tuple the way pydantic allows after validation.
            object.__setattr__(self, "categories", self.categories + missing)
        return self

    def category(self, key: str) -> CategoryName | None:
        """The category with this key, or None when the list has no such key."""
        return next((item for item in self.categories if item.key == key), None)


class FileSettings(_Section):
    """Everything config.toml may contain."""

    city: CitySettings
    languages: LanguageSettings = LanguageSettings()
    hours: HoursSettings = HoursSettings()
    menu: MenuSettings = MenuSettings()
    queue: QueueSettings = QueueSettings()
    booking: BookingSettings = BookingSettings()
    prompts: PromptSettings = PromptSettings()
    privacy: PrivacySettings = PrivacySettings()
    supervisor: SupervisorSettings = SupervisorSettings()
    web: WebSettings = WebSettings()
    inquiries: InquirySettings = InquirySettings()


class Secrets(BaseModel):
    """Values that come only from the environment."""

    model_config = ConfigDict(frozen=True)

    database_url: str
    redis_url: str | None
    secret_key: str
    twilio_account_sid: str | None
    twilio_auth_token: str
    twilio_phone_number: str | None
    public_base_url: str
    api_token: str | None
    # The operators' browser softphone (Twilio Voice JavaScript SDK): all three or none.
    twilio_api_key_sid: str | None = None
    twilio_api_key_secret: str | None = None
    twilio_twiml_app_sid: str | None = None
    # Keys that seal residents' data (newest first) and key its search index, as written in
    # MADOGUCHI_DATA_KEYS / MADOGUCHI_INDEX_KEY; or, for the embedded default, the var/ folder
    # whose key files hold them (re-read when a rotation changes them).
    data_keys: str = Field(default="", repr=False)
    index_keys: str = Field(default="", repr=False)
    key_folder: Path | None = None


class Settings(BaseModel):
    """The whole configuration: the file's sections plus secrets and paths."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    config_path: Path
    var_dir: Path
    file: FileSettings
    secrets: Secrets

    @property
    def city(self) -> CitySettings:
        """The [city] section."""
        return self.file.city

    @property
    def languages(self) -> LanguageSettings:
        """The [languages] section."""
        return self.file.languages

    @property
    def hours(self) -> HoursSettings:
        """The [hours] section."""
        return self.file.hours

    @property
    def menu(self) -> MenuSettings:
        """The [menu] section."""
        return self.file.menu

    @property
    def queue(self) -> QueueSettings:
        """The [queue] section."""
        return self.file.queue

    @property
    def booking(self) -> BookingSettings:
        """The [booking] section."""
        return self.file.booking

    @property
    def prompts(self) -> PromptSettings:
        """The [prompts] section."""
        return self.file.prompts

    @property
    def privacy(self) -> PrivacySettings:
        """The [privacy] section."""
        return self.file.privacy

    @property
    def supervisor(self) -> SupervisorSettings:
        """The [supervisor] section."""
        return self.file.supervisor

    @property
    def web(self) -> WebSettings:
        """The [web] section."""
        return self.file.web

    @property
    def inquiries(self) -> InquirySettings:
        """The [inquiries] section."""
        return self.file.inquiries

    @property
    def tz(self) -> ZoneInfo:
        """The city's time zone."""
        return ZoneInfo(self.file.city.timezone)

    @property
    def uses_twilio(self) -> bool:
        """True when real Twilio credentials are configured (else the built-in simulator)."""
        return bool(self.secrets.twilio_account_sid)

    @property
    def softphone_configured(self) -> bool:
        """True when operators can take calls in the browser (Twilio plus an API key and app)."""
        return self.uses_twilio and bool(self.secrets.twilio_api_key_sid)


def _describe(error: dict) -> tuple[str, str]:
    """Turn one pydantic error into (dotted key, what is expected)."""
    key = ".".join(str(part) for part in error["loc"]) or "(file)"
    kind = error["type"]
    if kind == "extra_forbidden":
        return key, "unknown key: remove it or check its spelling"
    if kind == "missing":
        return key, "missing: this key is required"
    message = error["msg"]
    message = message.removeprefix("Value error, ")
    return key, message


def _local_secret(var_dir: Path, name: str) -> str:
    """A random secret kept in var/ (owner-only) so the embedded default works without set-up."""
    ensure_private_dir(var_dir)
    path = var_dir / name
    create_private_file_once(path, secrets.token_urlsafe(32))
    return path.read_text().strip()


def _checked_keys(name: str, spec: str) -> str:
    try:
        parse_keys(spec)
    except KeyFormatError as exc:
        raise SettingsError(f"{name}: {exc}") from None
    return spec


def _sealing_keys(env: dict[str, str], var_dir: Path) -> dict:
    """The data and index keys: from the environment, else (embedded default) from var/."""
    data_spec = env.get(DATA_KEYS_VARIABLE) or ""
    index_spec = env.get(INDEX_KEY_VARIABLE) or ""
    if data_spec or index_spec or env.get("DATABASE_URL"):
        for name, spec in ((DATA_KEYS_VARIABLE, data_spec), (INDEX_KEY_VARIABLE, index_spec)):
            if not spec.strip():
                raise SettingsError(
                    f"{name}: required when DATABASE_URL or the other key variable is set; "
                    f"expected {KEY_FORM}")
        return {"data_keys": _checked_keys(DATA_KEYS_VARIABLE, data_spec),
                "index_keys": _checked_keys(INDEX_KEY_VARIABLE, index_spec), "key_folder": None}
    files = KeyFiles.in_folder(var_dir)
    ensure_private_dir(var_dir)
    files.ensure()
    data_spec, index_spec = files.read()
    return {"data_keys": _checked_keys(str(files.data_path), data_spec),
            "index_keys": _checked_keys(str(files.index_path), index_spec),
            "key_folder": var_dir}


def find_config_path(explicit: str | os.PathLike | None = None) -> Path:
    """The config file: an explicit path, MADOGUCHI_CONFIG, or ./config.toml."""
    raw = explicit or os.environ.get("MADOGUCHI_CONFIG") or "config.toml"
    path = Path(raw).expanduser().resolve()
    if not path.is_file():
        raise SettingsError(
            f"{raw}: configuration file not found; run from the Madoguchi folder "
            "or set MADOGUCHI_CONFIG to the path of config.toml"
        )
    return path


def parse_file_settings(path: Path, data: dict) -> FileSettings:
    """Validate the parsed TOML, raising SettingsError naming the first wrong key."""
    try:
        return FileSettings.model_validate(data)
    except ValidationError as exc:
        key, expected = _describe(exc.errors()[0])
        raise SettingsError(f"{path}: {key}: {expected}") from None


_SOFTPHONE_VARIABLES = {
    "TWILIO_API_KEY_SID": ("twilio_api_key_sid", r"^SK[0-9a-fA-F]{32}$",
                           "SK followed by 32 hex characters"),
    "TWILIO_API_KEY_SECRET": ("twilio_api_key_secret", r"^[0-9A-Za-z]{32}$",
                              "the API key's secret: 32 letters and digits, shown once by Twilio"),
    "TWILIO_TWIML_APP_SID": ("twilio_twiml_app_sid", r"^AP[0-9a-fA-F]{32}$",
                             "AP followed by 32 hex characters"),
}


def _softphone_secrets(env: dict[str, str], account_sid: str | None) -> dict[str, str | None]:
    """The browser softphone's API key and TwiML app: all three or none, checked for shape."""
    given = {name: env.get(name) or None for name in _SOFTPHONE_VARIABLES}
    if not any(given.values()):
        return {field: None for field, _, _ in _SOFTPHONE_VARIABLES.values()}
    for name, value in given.items():
        if value is None:
            others = " and ".join(other for other in _SOFTPHONE_VARIABLES if other != name)
            raise SettingsError(f"{name}: required when {others} are set (the browser softphone)")
    if not account_sid:
        raise SettingsError(
            "TWILIO_ACCOUNT_SID: required for the browser softphone "
            "(TWILIO_API_KEY_SID is set); without Twilio, leave the softphone variables unset"
        )
    result: dict[str, str | None] = {}
    for name, (field, pattern, expected) in _SOFTPHONE_VARIABLES.items():
        value = given[name] or ""
        if not re.match(pattern, value):
            raise SettingsError(f"{name}: expected {expected}")
        result[field] = value
    return result


def load_settings(
    config_path: str | os.PathLike | None = None, env: dict[str, str] | None = None
) -> Settings:
    """Read config.toml plus environment overrides; raise SettingsError on any bad value."""
    env = dict(os.environ if env is None else env)
    path = find_config_path(config_path or env.get("MADOGUCHI_CONFIG"))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise SettingsError(f"{path}: must be saved as UTF-8 text") from None
    file_settings = parse_file_settings(path, data)
    var_dir = Path(env.get("MADOGUCHI_VAR_DIR") or path.parent / "var")

    database_url = env.get("DATABASE_URL")
    if not database_url:
        # The embedded default keeps its database in var/; make it (owner only) even when every
        # secret comes from the environment and nothing else would write there.
        ensure_private_dir(var_dir)
        database_url = f"sqlite:///{var_dir / 'madoguchi.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url.removeprefix("postgres://")
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    if not database_url.startswith(("sqlite:", "postgresql+psycopg:")):
        raise SettingsError(
            "DATABASE_URL: expected sqlite:///path or postgresql://user@host/dbname, "
            f"got {database_url.split(':', 1)[0]}:…"
        )
    public_base_url = (env.get("PUBLIC_BASE_URL") or "http://127.0.0.1:8000").rstrip("/")
    if not public_base_url.startswith(("http://", "https://")):
        raise SettingsError(
            "PUBLIC_BASE_URL: expected the address Twilio reaches, starting with https://"
        )
    account_sid = env.get("TWILIO_ACCOUNT_SID") or None
    auth_token = env.get("TWILIO_AUTH_TOKEN") or None
    if account_sid and not auth_token:
        raise SettingsError("TWILIO_AUTH_TOKEN: required when TWILIO_ACCOUNT_SID is set")
    if account_sid and not re.match(r"^AC[0-9a-fA-F]{32}$", account_sid):
        raise SettingsError("TWILIO_ACCOUNT_SID: expected AC followed by 32 hex characters")
    softphone = _softphone_secrets(env, account_sid)
    secret = Secrets(
        database_url=database_url,
        redis_url=env.get("REDIS_URL") or None,
        secret_key=env.get("SECRET_KEY") or _local_secret(var_dir, "secret_key"),
        twilio_account_sid=account_sid,
        twilio_auth_token=auth_token or _local_secret(var_dir, "simulator_auth_token"),
        twilio_phone_number=env.get("TWILIO_PHONE_NUMBER") or None,
        public_base_url=public_base_url,
        api_token=env.get("MADOGUCHI_API_TOKEN") or None,
        **softphone,
        **_sealing_keys(env, var_dir),
    )
    return Settings(config_path=path, var_dir=var_dir, file=file_settings, secrets=secret)
