"""The operators' and supervisors' web console: login, residents, bookings, inquiries, FAQ.

Register with `agent_console.init_app(app)`. Everything lives under /console. CSRF protection
and the session cookie's flags are the app's (madoguchi.web_security); the console adds its
login, its session lifetime, its pages, and Flask-Babel: each request's locale is the
operator's language (`i18n.current_language`), its time zone the city's.

The console's texts are message catalogues, `translations/{ja,en}/LC_MESSAGES/messages.po`,
read by `i18n.translate(key)` in Python and `t('key')` in templates. To add or change a text,
edit the entry in both .po files (msgid: the key; msgstr: the text; the same `{placeholders}` in
both), then compile them with `pybabel compile -d agent_console/translations` and commit the .mo
files too: a test fails when a committed .mo does not match its .po. `pybabel extract -F
agent_console/babel.cfg -k translate -k t -o messages.pot agent_console` lists every key the code
and templates use literally.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, current_app, redirect, url_for
from flask_babel import Babel

from agent_console.blueprint import bp
from agent_console.i18n import DEFAULT_LANGUAGE, TRANSLATIONS, current_language
from agent_console.security import ABSOLUTE_SESSION_SECONDS, login_manager

babel = Babel()


def city_time_zone():
    """The zone every date and time on the console is shown in: the city's."""
    return current_app.config["SETTINGS"].tz


def init_app(app: Flask) -> None:
    """Attach login, the session lifetime, languages and the console's blueprint to the app."""
    # The view modules add their routes to the blueprint when imported.
    from agent_console.views import (  # noqa: F401
        admin,
        auth,
        faq,
        hooks,
        inquiries,
        my_settings,
        reports,
        residents,
        sessions,
        sms,
        supervisor,
        voice,
        work,
    )
    # Flask's default of 31 days is replaced, not merely defaulted: a working day, then log in.
    app.config.update(PERMANENT_SESSION_LIFETIME=timedelta(seconds=ABSOLUTE_SESSION_SECONDS))
    settings = app.config["SETTINGS"]
    login_manager.init_app(app)
    babel.init_app(app, default_locale=DEFAULT_LANGUAGE,
                   default_translation_directories=str(TRANSLATIONS),
                   default_timezone=settings.tz.key, locale_selector=current_language,
                   timezone_selector=city_time_zone)
    app.register_blueprint(bp)
    if not any(
        rule.rule == "/" for rule in app.url_map.iter_rules()
    ):
        app.add_url_rule("/", "console_root", lambda: redirect(url_for("console.home")))
